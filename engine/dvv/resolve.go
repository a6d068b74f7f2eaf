package dvv

import "bytes"

// Resolve replaces o's siblings by merged, the value a resolver computed
// from them. It is deterministic, so replicas that resolve the same
// siblings on their own converge instead of creating new siblings:
//
//   - If merged has the value and tombstone flag of the newest sibling of
//     some actor, that sibling is kept (the one of the smallest such actor)
//     and every other sibling is dropped; the clock is unchanged and no dot
//     is issued. Every replica computes the same object.
//   - Otherwise merged is written with a new dot of actor, superseding every
//     sibling (an [Object.Update] with o's own context). Replicas that did
//     this independently hold siblings with equal values; resolving those
//     takes the first branch everywhere, and they converge.
//
// o is returned unchanged when it has fewer than two siblings. The same rules
// as for Update hold for actor.
func (o Object) Resolve(actor string, merged Sibling) Object {
	if o.Len() < 2 {
		return o
	}
	keep := -1
	for i, e := range o.entries {
		if len(e.values) > 0 && sameContent(e.values[0], merged) {
			keep = i
			break
		}
	}
	if keep < 0 {
		return o.Update(actor, o.Context(), merged)
	}
	out := make([]entry, len(o.entries))
	for i, e := range o.entries {
		out[i] = entry{actor: e.actor, counter: e.counter}
		if i == keep {
			out[i].values = e.values[:1:1]
		}
	}
	return Object{entries: out}
}

// sameContent compares what a client sees of two siblings: value and
// tombstone flag, not the timestamp.
func sameContent(a, b Sibling) bool {
	return a.Tombstone == b.Tombstone && bytes.Equal(a.Value, b.Value)
}

// Distinct reports how many different (value, tombstone) contents o's
// siblings have: 1 means every sibling shows the same thing.
func (o Object) Distinct() int {
	sibs := o.Siblings()
	n := 0
	for i, s := range sibs {
		dup := false
		for _, t := range sibs[:i] {
			if sameContent(s, t) {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}
