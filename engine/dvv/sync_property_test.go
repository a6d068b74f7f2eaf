package dvv_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/dvv"
)

// drawObjects runs a random history and draws n of the object states it
// reached (current or stale, from any replica), so that the objects obey the
// rule that no dot is issued twice, as real replicas do.
func drawObjects(t *rapid.T, n int) []dvv.Object {
	h := genHistory(t, nil, nil)
	pool := append([]dvv.Object{{}}, h.snaps...)
	out := make([]dvv.Object, n)
	for i := range out {
		out[i] = rapid.SampledFrom(pool).Draw(t, "object")
	}
	return out
}

func TestSyncIsCommutative(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		o := drawObjects(t, 2)
		if ab, ba := dvv.Sync(o[0], o[1]), dvv.Sync(o[1], o[0]); !ab.Equal(ba) {
			t.Fatalf("Sync(a, b) has dots %v, Sync(b, a) has %v", ab.Dots(), ba.Dots())
		}
	})
}

func TestSyncIsAssociative(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		o := drawObjects(t, 3)
		left := dvv.Sync(dvv.Sync(o[0], o[1]), o[2])
		right := dvv.Sync(o[0], dvv.Sync(o[1], o[2]))
		if !left.Equal(right) {
			t.Fatalf("(a+b)+c has dots %v, a+(b+c) has %v", left.Dots(), right.Dots())
		}
	})
}

func TestSyncIsIdempotent(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		o := drawObjects(t, 2)
		if aa := dvv.Sync(o[0], o[0]); !aa.Equal(o[0]) {
			t.Fatalf("Sync(a, a) has dots %v, a has %v", aa.Dots(), o[0].Dots())
		}
		ab := dvv.Sync(o[0], o[1])
		if again := dvv.Sync(ab, o[1]); !again.Equal(ab) {
			t.Fatalf("syncing b twice changed the result: %v then %v", ab.Dots(), again.Dots())
		}
		if z := dvv.Sync(o[0], dvv.Object{}); !z.Equal(o[0]) {
			t.Fatalf("Sync with the zero object changed a: %v", z.Dots())
		}
	})
}

func TestSyncContextIsTheJoin(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		o := drawObjects(t, 2)
		if got, want := dvv.Sync(o[0], o[1]).Context(), o[0].Context().Merge(o[1].Context()); !got.Equal(want) {
			t.Fatalf("context of Sync(a, b) is %v, want %v", got, want)
		}
	})
}
