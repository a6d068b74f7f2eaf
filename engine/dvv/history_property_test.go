package dvv_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/dvv"
)

// TestHistoryMatchesModel runs random histories of reads, writes and syncs and
// checks, after every step, that each replica holds exactly the values the
// model says are live, with the model's causal context.
func TestHistoryMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, func(h *history) { h.check(t) }, nil)
		h.checkSnapshotsUnchanged(t)
	})
}

// TestWriteSupersedesExactlyWhatItsContextCovers checks every write of random
// histories: the siblings the client read (if any) are gone, every sibling of
// the replica the context does not cover stays (values written after the read,
// or that the read never saw), and the new value is added
// with the next dot of the coordinator.
func TestWriteSupersedesExactlyWhatItsContextCovers(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		genHistory(t, nil, func(ev writeEvent) {
			var want []dvv.Dot
			for _, d := range ev.before.Dots() {
				if !ev.ctx.Covers(d) {
					want = append(want, d)
				}
			}
			got := ev.after.Dots()
			var newDots []dvv.Dot
			for _, d := range got {
				if !slices.Contains(want, d) {
					newDots = append(newDots, d)
				}
			}
			if len(newDots) != 1 || len(got) != len(want)+1 {
				t.Fatalf("write with context %v on %v gave dots %v, want %v plus one new dot", ev.ctx, ev.before.Dots(), got, want)
			}
			nd := newDots[0]
			if wantCounter := max(ev.before.Context().Get(nd.Actor), ev.ctx.Get(nd.Actor)) + 1; nd.Counter != wantCounter {
				t.Fatalf("new dot %v, want counter %d", nd, wantCounter)
			}
			if ev.read != nil {
				for _, d := range ev.read.dots {
					if slices.Contains(got, d) {
						t.Fatalf("value %v seen by the read survived a write with its context", d)
					}
				}
			}
			if c := ev.after.Context(); !c.Descends(ev.before.Context().Merge(ev.ctx)) || !c.Covers(nd) {
				t.Fatalf("context after the write %v does not cover the write and what it saw", c)
			}
		})
	})
}

// TestNothingLostUnlessCovered converges random histories and checks that the
// replicas agree and that every write survives unless some write's context
// covered it: concurrent writes (blind, or with stale contexts) end up as
// siblings.
func TestNothingLostUnlessCovered(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, nil, nil)
		h.syncAll()
		all := map[dvv.Dot]bool{}
		for d := range h.writes {
			all[d] = true
		}
		want := h.live(all)
		for r, o := range h.objs {
			if !o.Equal(h.objs[0]) {
				t.Fatalf("replica %d did not converge with replica 0", r)
			}
			if got := o.Dots(); !slices.Equal(got, want) {
				t.Fatalf("replica %d: dots %v after convergence, want every uncovered write %v", r, got, want)
			}
		}
		h.check(t)
	})
}
