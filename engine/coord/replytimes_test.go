package coord

import (
	"slices"
	"testing"
	"time"
)

func TestReplyTimesOrderFastestFirst(t *testing.T) {
	t.Parallel()
	var r replyTimes
	pref := []string{"a", "b", "c"}
	if got := r.fastestFirst(pref); !slices.Equal(got, pref) {
		t.Fatalf("no samples: %v, want the preference list's order", got)
	}
	r.observe("a", 4*time.Millisecond)
	r.observe("b", 2*time.Millisecond)
	// c has no sample: first, so that it gets one; then the faster b.
	if got := r.fastestFirst(pref); !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Fatalf("order %v, want c b a", got)
	}
	if !slices.Equal(pref, []string{"a", "b", "c"}) {
		t.Fatalf("fastestFirst changed its argument: %v", pref)
	}
	r.observe("c", 2*time.Millisecond)
	if got := r.fastestFirst(pref); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Errorf("ties: %v, want b before c as in the preference list", got)
	}
}

func TestReplyTimesAverageMovesAnEighthPerSample(t *testing.T) {
	t.Parallel()
	var r replyTimes
	r.observe("a", 8*time.Millisecond)
	if got := r.average("a"); got != 8*time.Millisecond {
		t.Fatalf("first sample: %v, want 8ms", got)
	}
	r.observe("a", 16*time.Millisecond)
	if got := r.average("a"); got != 9*time.Millisecond {
		t.Errorf("after a 16ms sample: %v, want 9ms", got)
	}
	// A slow spell is forgotten as fast answers come in.
	for range 64 {
		r.observe("a", time.Millisecond)
	}
	if got := r.average("a"); got > 1100*time.Microsecond {
		t.Errorf("after 64 fast samples: %v, want about 1ms", got)
	}
}
