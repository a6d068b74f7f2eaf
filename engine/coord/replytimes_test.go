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

func TestReplyTimesHedgeDelay(t *testing.T) {
	t.Parallel()
	const floor, ceiling = 2 * time.Millisecond, 20 * time.Millisecond
	var r replyTimes
	if got := r.hedgeDelay([]string{"b"}, floor, ceiling); got != ceiling {
		t.Fatalf("no sample: %v, want the ceiling", got)
	}
	if got := r.hedgeDelay(nil, floor, ceiling); got != ceiling {
		t.Fatalf("no peer asked: %v, want the ceiling", got)
	}
	// A first sample of 4ms: average 4ms, deviation half of it, 2ms; late
	// after 4 + 4×2 = 12ms.
	r.observe("b", 4*time.Millisecond)
	if got := r.hedgeDelay([]string{"b"}, floor, ceiling); got != 12*time.Millisecond {
		t.Fatalf("after one 4ms sample: %v, want 12ms", got)
	}
	// A second of 12ms: distance 8ms moves the deviation a quarter of the
	// way (2 → 3.5ms), the average an eighth (4 → 5ms): 5 + 14 = 19ms.
	r.observe("b", 12*time.Millisecond)
	if got := r.hedgeDelay([]string{"b"}, floor, ceiling); got != 19*time.Millisecond {
		t.Fatalf("after a 12ms sample: %v, want 19ms", got)
	}
	// Steady fast answers: the deviation decays and the floor holds.
	r.observe("c", 500*time.Microsecond)
	for range 64 {
		r.observe("c", 500*time.Microsecond)
	}
	if got := r.hedgeDelay([]string{"c"}, floor, ceiling); got != floor {
		t.Fatalf("steady 0.5ms answers: %v, want the floor", got)
	}
	// Several peers asked: the read waits for the latest of them.
	if got := r.hedgeDelay([]string{"c", "b"}, floor, ceiling); got != 19*time.Millisecond {
		t.Fatalf("c and b: %v, want b's 19ms", got)
	}
	if got := r.hedgeDelay([]string{"c", "d"}, floor, ceiling); got != ceiling {
		t.Fatalf("c and d, which has no sample: %v, want the ceiling", got)
	}
	// A slow record is capped at the ceiling.
	r.observe("e", 50*time.Millisecond)
	if got := r.hedgeDelay([]string{"e"}, floor, ceiling); got != ceiling {
		t.Fatalf("a 50ms record: %v, want the ceiling", got)
	}
}
