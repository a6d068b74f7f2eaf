package aae_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
)

var unbounded = aae.ExchangeOptions{MaxSegmentsPerRound: -1}

// exchangeOK runs Exchange and fails the test on error.
func exchangeOK(tb tester, ctx context.Context, a, b *memReplica, opts aae.ExchangeOptions) aae.Stats {
	tb.Helper()
	st, err := aae.Exchange(ctx, 0, a, b, opts)
	if err != nil {
		tb.Fatalf("Exchange: %v", err)
	}
	return st
}

// assertIdle fails unless an exchange between a and b finds nothing to do.
func assertIdle(tb tester, ctx context.Context, a, b *memReplica) {
	tb.Helper()
	if st := exchangeOK(tb, ctx, a, b, unbounded); st != (aae.Stats{SegmentsCompared: a.tree.Len()}) {
		tb.Fatalf("second exchange was not idle: %+v", st)
	}
}

func TestExchangeConverges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		setup     func(t *testing.T, a, b *memReplica)
		toA, toB  int // keys repaired on each side
		unchanged bool
	}{
		{
			name:      "identical",
			setup:     func(t *testing.T, a, b *memReplica) { a.write(t, key("ns", "k"), "v", false); copyAll(t, a, b) },
			unchanged: true,
		},
		{
			name: "missing on b",
			setup: func(t *testing.T, a, b *memReplica) {
				a.write(t, key("ns", "k1"), "v1", false)
				a.write(t, key("ns", "k2"), "v2", false)
			},
			toB: 2,
		},
		{
			name: "missing on each side",
			setup: func(t *testing.T, a, b *memReplica) {
				a.write(t, key("ns", "only-a"), "v", false)
				b.write(t, key("ns", "only-b"), "v", false)
				b.write(t, key("other", "only-b"), "v", false)
			},
			toA: 2, toB: 1,
		},
		{
			name: "concurrent siblings on both sides",
			setup: func(t *testing.T, a, b *memReplica) {
				a.write(t, key("ns", "cart"), "base", false)
				copyAll(t, a, b)
				a.write(t, key("ns", "cart"), "from a 1", true)
				a.write(t, key("ns", "cart"), "from a 2", true)
				b.write(t, key("ns", "cart"), "from b", false)
			},
			toA: 1, toB: 1,
		},
		{
			name: "a newer",
			setup: func(t *testing.T, a, b *memReplica) {
				a.write(t, key("ns", "k"), "old", false)
				copyAll(t, a, b)
				a.write(t, key("ns", "k"), "new", false)
			},
			toB: 1,
		},
		{
			name: "b deleted",
			setup: func(t *testing.T, a, b *memReplica) {
				a.write(t, key("ns", "k"), "v", false)
				copyAll(t, a, b)
				b.remove(t, key("ns", "k"))
			},
			toA: 1,
		},
		{
			name: "many keys, few differ",
			setup: func(t *testing.T, a, b *memReplica) {
				for i := range 500 {
					a.write(t, key("ns", fmt.Sprint(i)), "v", false)
				}
				copyAll(t, a, b)
				a.write(t, key("ns", "7"), "newer", false)
				b.write(t, key("ns", "8"), "newer", false)
				b.write(t, key("ns", "9"), "sibling", true)
			},
			toA: 2, toB: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newMem("node-a", 16), newMem("node-b", 16)
			tc.setup(t, a, b)
			a0, b0 := a.snapshot(), b.snapshot()

			st := exchangeOK(t, t.Context(), a, b, unbounded)
			if st.KeysRepairedA != tc.toA || st.KeysRepairedB != tc.toB || st.KeysFailed != 0 {
				t.Fatalf("repaired a=%d b=%d failed=%d, want a=%d b=%d", st.KeysRepairedA, st.KeysRepairedB, st.KeysFailed, tc.toA, tc.toB)
			}
			if tc.unchanged != (st.SegmentsDiffering == 0) {
				t.Fatalf("%d segments differed", st.SegmentsDiffering)
			}
			assertConverged(t, a, b)
			assertMerged(t, a0, b0, a)
			assertIdle(t, t.Context(), a, b)
		})
	}
}

// copyAll makes b hold a's objects (b starts empty or equal).
func copyAll(t *testing.T, a, b *memReplica) {
	t.Helper()
	for k, raw := range a.snapshot() {
		b.store(k, raw)
	}
}

// Replicas that took any interleaving of local writes, deletes and partial
// replication converge in one unbounded exchange to the Sync of their
// objects, and the next exchange is idle.
func TestExchangeConvergesProperty(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rapid.Check(t, func(t *rapid.T) {
		segments := rapid.SampledFrom([]int{1, 4, 64}).Draw(t, "segments")
		reps := []*memReplica{newMem("node-a", segments), newMem("node-b", segments)}
		keyGen := rapid.SampledFrom([]string{key("ns", "a"), key("ns", "b"), key("ns", "c"), key("x", "a"), key("x", "")})
		for i := range rapid.IntRange(0, 40).Draw(t, "ops") {
			r := reps[rapid.IntRange(0, 1).Draw(t, "replica")]
			k := keyGen.Draw(t, "key")
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				r.write(t, k, fmt.Sprint("v", i), false)
			case 1:
				r.write(t, k, fmt.Sprint("v", i), true)
			case 2:
				r.remove(t, k)
			case 3: // replicate one key to the other replica
				other := reps[0]
				if other == r {
					other = reps[1]
				}
				if raw, ok := r.snapshot()[k]; ok {
					if err := other.Merge(ctx, 0, []aae.KeyObject{{Key: []byte(k), Object: raw}}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		a, b := reps[0], reps[1]
		a0, b0 := a.snapshot(), b.snapshot()
		exchangeOK(t, ctx, a, b, unbounded)
		assertConverged(t, a, b)
		assertMerged(t, a0, b0, a)
		assertIdle(t, ctx, a, b)
	})
}

// divergent returns replicas of the given number of segments where b lacks
// n keys of a, and the number of segments they differ in.
func divergent(t *testing.T, segments, n int) (a, b *memReplica, differing int) {
	t.Helper()
	a, b = newMem("node-a", segments), newMem("node-b", segments)
	for i := range n {
		a.write(t, key("ns", fmt.Sprint(i)), "v", false)
	}
	return a, b, len(tictac.Diff(a.tree.Segments(), b.tree.Segments()))
}

func TestExchangeBoundsSegmentsPerRound(t *testing.T) {
	t.Parallel()
	a, b, differing := divergent(t, 64, 300)
	const max = 5
	opts := aae.ExchangeOptions{MaxSegmentsPerRound: max}
	rounds := 0
	for ; ; rounds++ {
		st := exchangeOK(t, t.Context(), a, b, opts)
		if st.SegmentsDiffering == 0 {
			break
		}
		if want := differing - rounds*max; st.SegmentsDiffering != want {
			t.Fatalf("round %d: %d segments differ, want %d", rounds, st.SegmentsDiffering, want)
		}
		if st.SegmentsRepaired != min(max, st.SegmentsDiffering) {
			t.Fatalf("round %d repaired %d segments, want at most %d", rounds, st.SegmentsRepaired, max)
		}
		opts.StartSegment = st.NextSegment
	}
	if want := (differing + max - 1) / max; rounds != want {
		t.Fatalf("converged in %d rounds, want %d", rounds, want)
	}
	assertConverged(t, a, b)
}

func TestExchangeDefaultBound(t *testing.T) {
	t.Parallel()
	a, b, differing := divergent(t, 1024, 1000)
	if differing <= aae.DefaultMaxSegmentsPerRound {
		t.Fatalf("only %d segments differ", differing)
	}
	if st := exchangeOK(t, t.Context(), a, b, aae.ExchangeOptions{}); st.SegmentsRepaired != aae.DefaultMaxSegmentsPerRound {
		t.Fatalf("repaired %d segments, want the default %d", st.SegmentsRepaired, aae.DefaultMaxSegmentsPerRound)
	}
}

// StartSegment picks the first differing segment at or after it, wrapping.
func TestExchangeStartSegment(t *testing.T) {
	t.Parallel()
	a, b, _ := divergent(t, 64, 300)
	diff := tictac.Diff(a.tree.Segments(), b.tree.Segments())
	last := diff[len(diff)-1]
	st := exchangeOK(t, t.Context(), a, b, aae.ExchangeOptions{MaxSegmentsPerRound: 2, StartSegment: last})
	if st.NextSegment != diff[0]+1 {
		t.Fatalf("NextSegment = %d, want %d (wrapped past %d to %d)", st.NextSegment, diff[0]+1, last, diff[0])
	}
	got := tictac.Diff(a.tree.Segments(), b.tree.Segments())
	if len(got) != len(diff)-2 || got[0] != diff[1] || got[len(got)-1] != diff[len(diff)-2] {
		t.Fatalf("after starting at %d, still differing: %v (was %v)", last, got, diff)
	}
}

func TestExchangeLimiter(t *testing.T) {
	t.Parallel()
	a, b, _ := divergent(t, 64, 300)
	var waited, calls int
	lim := aae.LimiterFunc(func(ctx context.Context, n int) error {
		if n > 50 {
			return fmt.Errorf("batch of %d exceeds BatchSize", n)
		}
		waited += n
		calls++
		return nil
	})
	st := exchangeOK(t, t.Context(), a, b, aae.ExchangeOptions{MaxSegmentsPerRound: -1, BatchSize: 50, Limiter: lim})
	if waited != 300 || st.KeysRepairedB != 300 || calls != 6 {
		t.Fatalf("limiter granted %d keys in %d calls, exchange repaired %d; want 300 in 6", waited, calls, st.KeysRepairedB)
	}

	// A refusing limiter stops the exchange before anything is sent.
	c, d, _ := divergent(t, 64, 10)
	stop := errors.New("stop")
	st, err := aae.Exchange(t.Context(), 0, c, d, aae.ExchangeOptions{Limiter: aae.LimiterFunc(func(context.Context, int) error { return stop })})
	if !errors.Is(err, stop) || st.KeysRepairedB != 0 || d.merged != 0 {
		t.Fatalf("Exchange = %+v, %v; want nothing sent and %v", st, err, stop)
	}
}

// An object that does not decode is reported, not dropped, and does not stop
// the repair of the other keys.
func TestExchangeBadObject(t *testing.T) {
	t.Parallel()
	a, b := newMem("node-a", 1), newMem("node-b", 1)
	a.write(t, key("ns", "good"), "v", false)
	a.store(key("ns", "bad"), []byte{0x01, 0xff})
	b.write(t, key("ns", "bad"), "v", false)

	st, err := aae.Exchange(t.Context(), 0, a, b, unbounded)
	if !errors.Is(err, aae.ErrBadObject) || !errors.Is(err, dvv.ErrBadObject) {
		t.Fatalf("Exchange error = %v, want ErrBadObject", err)
	}
	if st.KeysFailed != 1 || st.KeysRepairedB != 1 || st.KeysRepairedA != 0 {
		t.Fatalf("stats %+v, want 1 failed and 1 repaired on b", st)
	}
	if !b.get(t, key("ns", "good")).Equal(a.get(t, key("ns", "good"))) {
		t.Fatal("the good key was not repaired")
	}
}

func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		setup func(a, b *memReplica) (aae.Replica, aae.Replica)
		want  error
	}{
		{
			name:  "segment counts differ",
			setup: func(a, b *memReplica) (aae.Replica, aae.Replica) { return a, newMem("node-c", 32) },
			want:  aae.ErrSegmentCount,
		},
		{
			name:  "duplicate key",
			setup: func(a, b *memReplica) (aae.Replica, aae.Replica) { return a, duplicating{b} },
			want:  aae.ErrDuplicateKey,
		},
		{
			name:  "replica fails",
			setup: func(a, b *memReplica) (aae.Replica, aae.Replica) { b.fail = boom; return a, b },
			want:  boom,
		},
		{
			name: "context cancelled",
			setup: func(a, b *memReplica) (aae.Replica, aae.Replica) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return a, withContext{b, ctx}
			},
			want: context.Canceled,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newMem("node-a", 16), newMem("node-b", 16)
			a.write(t, key("ns", "k"), "v", false)
			b.write(t, key("ns", "k"), "w", false)
			ra, rb := tc.setup(a, b)
			if _, err := aae.Exchange(t.Context(), 0, ra, rb, unbounded); !errors.Is(err, tc.want) {
				t.Fatalf("Exchange error = %v, want %v", err, tc.want)
			}
		})
	}
}

// duplicating returns every object twice.
type duplicating struct{ *memReplica }

func (d duplicating) Objects(ctx context.Context, p int, segs []int) ([]aae.KeyObject, error) {
	objs, err := d.memReplica.Objects(ctx, p, segs)
	return append(objs, objs...), err
}

// withContext replaces the context of Objects, as a remote replica whose
// call was cancelled.
type withContext struct {
	*memReplica
	ctx context.Context
}

func (w withContext) Objects(_ context.Context, p int, segs []int) ([]aae.KeyObject, error) {
	return w.memReplica.Objects(w.ctx, p, segs)
}
