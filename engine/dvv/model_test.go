package dvv_test

import (
	"fmt"
	"maps"
	"slices"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/dvv"
)

// This file holds the reference model the property tests check dvv against,
// and the generator of random histories: several replicas, each one a server
// actor, taking client reads, client writes (blind, with a fresh context, or
// with a stale context read from any replica earlier) and syncs.
//
// The model forgets DVVSets entirely. A replica is the set of writes it has
// incorporated (written there, or received through a sync, transitively). A
// write is live on a replica if no write the replica incorporated carried a
// context covering it.

type modelWrite struct {
	dot dvv.Dot
	sib dvv.Sibling
	ctx dvv.Clock // the context the client sent
}

type modelRead struct {
	ctx  dvv.Clock
	dots []dvv.Dot
}

type history struct {
	actors []string
	objs   []dvv.Object           // replica i is coordinated by actors[i]
	known  []map[dvv.Dot]bool     // the writes each replica incorporated
	writes map[dvv.Dot]modelWrite // every write ever made
	reads  []modelRead            // every read ever made, for stale contexts
	snaps  []dvv.Object           // every object state ever reached, for laws
	bytes  map[int][]byte         // encodings of snaps by index, to detect mutation
	seq    int
}

func newHistory(nReplicas int) *history {
	h := &history{writes: map[dvv.Dot]modelWrite{}, bytes: map[int][]byte{}}
	for i := range nReplicas {
		h.actors = append(h.actors, fmt.Sprintf("node-%d", i))
		h.objs = append(h.objs, dvv.Object{})
		h.known = append(h.known, map[dvv.Dot]bool{})
	}
	return h
}

func (h *history) snapshot(o dvv.Object) {
	b, err := o.MarshalBinary()
	if err != nil {
		panic(err)
	}
	h.bytes[len(h.snaps)] = b
	h.snaps = append(h.snaps, o)
}

func (h *history) read(r int) modelRead {
	rd := modelRead{ctx: h.objs[r].Context(), dots: h.objs[r].Dots()}
	h.reads = append(h.reads, rd)
	return rd
}

// write applies a client write at replica r with ctx and returns the object
// before and after.
func (h *history) write(r int, ctx dvv.Clock, tombstone bool, ts int64) (before, after dvv.Object) {
	h.seq++
	sib := dvv.Sibling{Value: fmt.Appendf(nil, "v%d", h.seq), Tombstone: tombstone, Timestamp: ts}
	before = h.objs[r]
	after = before.Update(h.actors[r], ctx, sib)
	dot := dvv.Dot{Actor: h.actors[r], Counter: max(before.Context().Get(h.actors[r]), ctx.Get(h.actors[r])) + 1}
	h.writes[dot] = modelWrite{dot: dot, sib: sib, ctx: ctx}
	h.known[r][dot] = true
	h.objs[r] = after
	h.snapshot(after)
	return before, after
}

// sync makes replica dst merge the object of replica src.
func (h *history) sync(dst, src int) {
	h.objs[dst] = dvv.Sync(h.objs[dst], h.objs[src])
	maps.Copy(h.known[dst], h.known[src])
	h.snapshot(h.objs[dst])
}

// syncAll runs full exchanges until every replica has every write.
func (h *history) syncAll() {
	for dst := range h.objs {
		for src := range h.objs {
			h.sync(dst, src)
		}
	}
}

// live returns the writes of set that no write of set covers, sorted as
// Object.Dots sorts them.
func (h *history) live(set map[dvv.Dot]bool) []dvv.Dot {
	var out []dvv.Dot
	for d := range set {
		covered := false
		for e := range set {
			if h.writes[e].ctx.Covers(d) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	sortDots(out)
	return out
}

// modelContext is the version vector of everything replica r has seen: the
// dots of its writes and the contexts they carried.
func (h *history) modelContext(r int) dvv.Clock {
	var c dvv.Clock
	for d := range h.known[r] {
		c = c.Merge(dvv.NewClock(map[string]uint64{d.Actor: d.Counter})).Merge(h.writes[d].ctx)
	}
	return c
}

// check fails t unless every replica matches the model.
func (h *history) check(t *rapid.T) {
	for r, o := range h.objs {
		want := h.live(h.known[r])
		got := o.Dots()
		if !slices.Equal(got, want) {
			t.Fatalf("replica %d: dots %v, model wants %v", r, got, want)
		}
		for i, s := range o.Siblings() {
			w := h.writes[got[i]].sib
			if string(s.Value) != string(w.Value) || s.Tombstone != w.Tombstone || s.Timestamp != w.Timestamp {
				t.Fatalf("replica %d: sibling %d at %v is %+v, written as %+v", r, i, got[i], s, w)
			}
		}
		if c, want := o.Context(), h.modelContext(r); !c.Equal(want) {
			t.Fatalf("replica %d: context %v, model wants %v", r, c, want)
		}
		if o.Len() != len(want) || o.IsZero() != (len(h.known[r]) == 0) {
			t.Fatalf("replica %d: Len %d IsZero %v for %d live of %d known", r, o.Len(), o.IsZero(), len(want), len(h.known[r]))
		}
	}
}

// checkSnapshotsUnchanged fails t if an operation mutated an earlier object.
func (h *history) checkSnapshotsUnchanged(t *rapid.T) {
	for i, o := range h.snaps {
		b, _ := o.MarshalBinary()
		if string(b) != string(h.bytes[i]) {
			t.Fatalf("object %d changed after it was made", i)
		}
	}
}

func sortDots(ds []dvv.Dot) {
	slices.SortFunc(ds, func(a, b dvv.Dot) int {
		if a.Actor != b.Actor {
			if a.Actor < b.Actor {
				return -1
			}
			return 1
		}
		switch {
		case a.Counter < b.Counter:
			return -1
		case a.Counter > b.Counter:
			return 1
		}
		return 0
	})
}

// writeEvent is what a check needs to know about one write of a history.
type writeEvent struct {
	replica       int
	ctx           dvv.Clock
	read          *modelRead // the read whose context the write carried, nil if blind
	before, after dvv.Object
}

// genHistory draws and runs a random history, calling check after every
// operation when it is not nil.
func genHistory(t *rapid.T, check func(*history), onWrite func(writeEvent)) *history {
	h := newHistory(rapid.IntRange(1, 4).Draw(t, "replicas"))
	n := rapid.IntRange(0, 60).Draw(t, "steps")
	for range n {
		r := rapid.IntRange(0, len(h.objs)-1).Draw(t, "replica")
		switch op := rapid.IntRange(0, 5).Draw(t, "op"); op {
		case 0: // a client reads, and keeps the context for later
			h.read(r)
		case 1, 2: // a write: blind, fresh (read-then-write), or with any earlier context
			var ev writeEvent
			ev.replica = r
			switch kind := rapid.IntRange(0, 2).Draw(t, "ctx"); {
			case kind == 1:
				rd := h.read(r)
				ev.read = &rd
			case kind == 2 && len(h.reads) > 0:
				rd := h.reads[rapid.IntRange(0, len(h.reads)-1).Draw(t, "read")]
				ev.read = &rd
			}
			if ev.read != nil {
				ev.ctx = ev.read.ctx
			}
			ev.before, ev.after = h.write(r, ev.ctx, rapid.IntRange(0, 4).Draw(t, "tombstone") == 0, rapid.Int64().Draw(t, "ts"))
			if onWrite != nil {
				onWrite(ev)
			}
		case 3, 4: // one-way sync (replication, read repair)
			h.sync(r, rapid.IntRange(0, len(h.objs)-1).Draw(t, "src"))
		case 5: // two-way exchange (anti-entropy)
			src := rapid.IntRange(0, len(h.objs)-1).Draw(t, "src")
			h.sync(r, src)
			h.sync(src, r)
		}
		if check != nil {
			check(h)
		}
	}
	return h
}
