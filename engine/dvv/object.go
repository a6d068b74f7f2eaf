package dvv

import (
	"bytes"
	"iter"
	"slices"
	"strings"
)

// Sibling is one concurrent version of a key.
type Sibling struct {
	Value     []byte
	Tombstone bool
	// Timestamp is unix nanoseconds from the coordinator's wall clock. It is
	// informational (used by last-writer-wins resolution), never used for
	// causality.
	Timestamp int64
}

func (s Sibling) equal(t Sibling) bool {
	return s.Tombstone == t.Tombstone && s.Timestamp == t.Timestamp && bytes.Equal(s.Value, t.Value)
}

// Object is a DVVSet: the concurrent siblings of one key with their causal
// history. The zero Object has never been written.
//
// An Object is an immutable value: [Object.Update] and [Sync] return new
// Objects and never modify their arguments, so an Object is safe for
// concurrent use. The Value bytes of the siblings it returns are shared with
// it and must not be modified.
type Object struct {
	entries []entry // sorted by actor, unique
}

// entry is the state of one actor: its counter and the still-live values it
// coordinated, newest first. values[i] has the dot (actor, counter-i), so the
// actor's dots counter-len(values)+1 .. counter are live and every earlier one
// has been superseded.
type entry struct {
	actor   string
	counter uint64    // >= 1, >= len(values)
	values  []Sibling // newest first; capacity clipped so an append never writes into a shared array
}

func compareEntry(e entry, actor string) int { return strings.Compare(e.actor, actor) }

// discard drops the values of e whose dots are covered by the context counter
// m, and raises e's counter to m.
func (e entry) discard(m uint64) entry {
	if e.counter <= m {
		return entry{actor: e.actor, counter: m}
	}
	keep := min(uint64(len(e.values)), e.counter-m)
	return entry{actor: e.actor, counter: e.counter, values: e.values[:keep:keep]}
}

// mergeEntries merges the states of one actor in two replicas. A value
// survives if the other replica has not seen its dot, or holds it too; since
// values newest first are a suffix of the actor's dots, the result is the
// longer-counter side cut to the dots that are live on both sides.
func mergeEntries(a, b entry) entry {
	if a.counter < b.counter {
		a, b = b, a
	}
	la, lb := uint64(len(a.values)), uint64(len(b.values))
	if a.counter-la >= b.counter-lb {
		return a
	}
	keep := a.counter - b.counter + lb
	return entry{actor: a.actor, counter: a.counter, values: a.values[:keep:keep]}
}

// Update applies a client write coordinated by actor: every value whose dot
// is covered by ctx is dropped, s is added with the new dot (actor,
// max(o's counter for actor, ctx.Get(actor))+1), and the object's clock
// becomes the merge of its own and ctx, plus the new dot. ctx is the context
// the client read (the zero Clock for a blind write).
//
// The returned Object owns a copy of s.Value; o is not modified. actor must be
// the ID of the node running Update, never empty (Update panics otherwise),
// and that node must apply Update to the latest object it has stored for the
// key, so that it never issues the same dot twice.
func (o Object) Update(actor string, ctx Clock, s Sibling) Object {
	if actor == "" {
		panic("dvv: Update: empty actor")
	}
	out := make([]entry, 0, len(o.entries)+len(ctx.entries)+1)
	i, j := 0, 0
	for i < len(o.entries) || j < len(ctx.entries) {
		switch {
		case j == len(ctx.entries) || (i < len(o.entries) && o.entries[i].actor < ctx.entries[j].actor):
			out = append(out, o.entries[i])
			i++
		case i == len(o.entries) || ctx.entries[j].actor < o.entries[i].actor:
			out = append(out, entry{actor: ctx.entries[j].actor, counter: ctx.entries[j].counter})
			j++
		default:
			out = append(out, o.entries[i].discard(ctx.entries[j].counter))
			i++
			j++
		}
	}
	s.Value = bytes.Clone(s.Value)
	k, found := slices.BinarySearchFunc(out, actor, compareEntry)
	if !found {
		return Object{entries: slices.Insert(out, k, entry{actor: actor, counter: 1, values: []Sibling{s}})}
	}
	e := out[k]
	vs := make([]Sibling, 0, len(e.values)+1)
	vs = append(vs, s)
	vs = append(vs, e.values...)
	out[k] = entry{actor: actor, counter: nextCounter(e.counter), values: vs}
	return Object{entries: out}
}

// Sync merges the objects of one key held by two replicas. A value survives
// if its dot is not covered by the other object's clock, or the other object
// holds it too. Sync is commutative, associative and idempotent (up to
// [Object.Equal]) on objects produced by [Object.Update] and Sync under the
// rule that no dot is issued twice.
func Sync(a, b Object) Object {
	if len(a.entries) == 0 {
		return b
	}
	if len(b.entries) == 0 {
		return a
	}
	out := make([]entry, 0, max(len(a.entries), len(b.entries)))
	i, j := 0, 0
	for i < len(a.entries) || j < len(b.entries) {
		switch {
		case j == len(b.entries) || (i < len(a.entries) && a.entries[i].actor < b.entries[j].actor):
			out = append(out, a.entries[i])
			i++
		case i == len(a.entries) || b.entries[j].actor < a.entries[i].actor:
			out = append(out, b.entries[j])
			j++
		default:
			out = append(out, mergeEntries(a.entries[i], b.entries[j]))
			i++
			j++
		}
	}
	return Object{entries: out}
}

// Siblings returns the live values of o, tombstones included, ordered by
// actor and then by counter (oldest first): the same order as [Object.Dots].
// The slice is new; the Value bytes are shared with o and must not be
// modified.
func (o Object) Siblings() []Sibling {
	out := make([]Sibling, 0, o.Len())
	for _, e := range o.entries {
		for i := len(e.values) - 1; i >= 0; i-- {
			out = append(out, e.values[i])
		}
	}
	return out
}

// All yields the siblings of o in the order of [Object.Siblings], without
// making a slice of them.
func (o Object) All() iter.Seq[Sibling] {
	return func(yield func(Sibling) bool) {
		for _, e := range o.entries {
			for i := len(e.values) - 1; i >= 0; i-- {
				if !yield(e.values[i]) {
					return
				}
			}
		}
	}
}

// Dots returns the dot of each sibling, aligned with [Object.Siblings].
func (o Object) Dots() []Dot {
	out := make([]Dot, 0, o.Len())
	for _, e := range o.entries {
		for i := len(e.values) - 1; i >= 0; i-- {
			out = append(out, Dot{Actor: e.actor, Counter: e.counter - uint64(i)})
		}
	}
	return out
}

// Context returns the version vector of every write o has seen (the join of
// the DVVSet): the causal context handed to a client that reads o.
func (o Object) Context() Clock {
	es := make([]clockEntry, len(o.entries))
	for i, e := range o.entries {
		es[i] = clockEntry{actor: e.actor, counter: e.counter}
	}
	return Clock{entries: es}
}

// Len returns the number of siblings of o.
func (o Object) Len() int {
	n := 0
	for _, e := range o.entries {
		n += len(e.values)
	}
	return n
}

// IsZero reports whether o has never been written.
func (o Object) IsZero() bool { return len(o.entries) == 0 }

// HasLive reports whether some sibling of o is not a tombstone.
func (o Object) HasLive() bool {
	for _, e := range o.entries {
		for _, v := range e.values {
			if !v.Tombstone {
				return true
			}
		}
	}
	return false
}

// Equal reports whether o and p have the same clock and the same siblings
// with the same dots.
func (o Object) Equal(p Object) bool {
	return slices.EqualFunc(o.entries, p.entries, func(x, y entry) bool {
		return x.actor == y.actor && x.counter == y.counter && slices.EqualFunc(x.values, y.values, Sibling.equal)
	})
}
