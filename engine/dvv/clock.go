package dvv

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// MaxCounter is the largest counter accepted in an encoded [Clock] (see
// [DecodeContext]) and by [NewClock]. It keeps a forged client context far
// from the uint64 limit: after it, 3·2^62 more writes coordinated for one key
// would be needed before [Object.Update] could run out of counters.
const MaxCounter uint64 = 1 << 62

// Dot names one write: the actor (server node ID) that coordinated it and that
// actor's counter for the key at that write.
type Dot struct {
	Actor   string
	Counter uint64
}

// String returns "actor:counter".
func (d Dot) String() string { return d.Actor + ":" + strconv.FormatUint(d.Counter, 10) }

// Clock is a version vector: a map from actor to counter, kept sorted by
// actor, without zero entries. The zero Clock is empty and ready to use.
//
// A Clock is an immutable value: no method modifies it, and it is safe for
// concurrent use.
type Clock struct {
	entries []clockEntry // sorted by actor, unique, counter >= 1
}

type clockEntry struct {
	actor   string
	counter uint64
}

func compareClockEntry(e clockEntry, actor string) int { return strings.Compare(e.actor, actor) }

// NewClock returns the clock of pairs. Zero counters are dropped. It panics on
// an empty actor or a counter above [MaxCounter]; it is meant for tests and
// literals, not for untrusted input (use [DecodeContext] for that).
func NewClock(pairs map[string]uint64) Clock {
	es := make([]clockEntry, 0, len(pairs))
	for a, n := range pairs {
		if a == "" {
			panic("dvv: NewClock: empty actor")
		}
		if n > MaxCounter {
			panic("dvv: NewClock: counter above MaxCounter")
		}
		if n != 0 {
			es = append(es, clockEntry{actor: a, counter: n})
		}
	}
	slices.SortFunc(es, func(x, y clockEntry) int { return strings.Compare(x.actor, y.actor) })
	return Clock{entries: es}
}

// Get returns the counter of actor, 0 if c has none.
func (c Clock) Get(actor string) uint64 {
	if i, ok := slices.BinarySearchFunc(c.entries, actor, compareClockEntry); ok {
		return c.entries[i].counter
	}
	return 0
}

// Covers reports whether the write d is in the causal past described by c.
func (c Clock) Covers(d Dot) bool { return d.Counter <= c.Get(d.Actor) }

// Descends reports whether c >= o pointwise: everything o has seen, c has seen.
func (c Clock) Descends(o Clock) bool {
	i := 0
	for _, oe := range o.entries {
		for i < len(c.entries) && c.entries[i].actor < oe.actor {
			i++
		}
		if i == len(c.entries) || c.entries[i].actor != oe.actor || c.entries[i].counter < oe.counter {
			return false
		}
	}
	return true
}

// Equal reports whether c and o hold the same counters.
func (c Clock) Equal(o Clock) bool { return slices.Equal(c.entries, o.entries) }

// Merge returns the pointwise maximum of c and o.
func (c Clock) Merge(o Clock) Clock {
	out := make([]clockEntry, 0, max(len(c.entries), len(o.entries)))
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || (i < len(c.entries) && c.entries[i].actor < o.entries[j].actor):
			out = append(out, c.entries[i])
			i++
		case i == len(c.entries) || o.entries[j].actor < c.entries[i].actor:
			out = append(out, o.entries[j])
			j++
		default:
			out = append(out, clockEntry{actor: c.entries[i].actor, counter: max(c.entries[i].counter, o.entries[j].counter)})
			i++
			j++
		}
	}
	return Clock{entries: out}
}

// IsZero reports whether c is empty (has seen nothing).
func (c Clock) IsZero() bool { return len(c.entries) == 0 }

// Actors returns the actors of c in ascending order, in a new slice.
func (c Clock) Actors() []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.actor
	}
	return out
}

// String returns the clock as "{a:1, b:2}" with actors in ascending order.
func (c Clock) String() string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, e := range c.entries {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(Dot{Actor: e.actor, Counter: e.counter}.String())
	}
	sb.WriteByte('}')
	return sb.String()
}

// nextCounter returns n+1, panicking rather than wrapping around: a wrapped
// counter would reuse dots and silently lose writes.
func nextCounter(n uint64) uint64 {
	if n == math.MaxUint64 {
		panic("dvv: counter overflow")
	}
	return n + 1
}
