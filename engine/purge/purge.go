// Package purge decides when a tombstone may be removed for good.
//
// A delete is a write of a tombstone sibling, so a deleted key keeps an
// object. The first replica of each partition ([Purger]) removes such an
// object only when all of these hold:
//
//   - it is tombstones only, no live sibling ([Live] otherwise);
//   - its newest sibling is older than the grace cutoff, which must outlast
//     hint delivery, so that no hint of an older value can arrive after the
//     tombstone that covers it is gone ([Recent]);
//   - no ring change is moving partitions, whose receivers might not hold
//     the tombstone yet ([Moving]);
//   - every other replica of the preference list answered, with exactly the
//     same object ([Unreachable], [Differs]).
//
// [Rule.Candidate] checks the replica's own copy; a [Check] then takes the
// other replicas' answers one at a time, so the caller stops asking at the
// first one that rules the purge out. The node (engine/node/purge.go)
// scans, reads from peers and deletes; this package only decides. It is a
// package of its own, not a part of engine/handoff, because it is about
// deletes and shares nothing with partition transfers but the "moving"
// bit the node passes in.
//
// The package is pure: no IO, no clock (the caller passes the cutoff), no
// goroutines. Its values are not safe for concurrent use.
package purge

import "github.com/concord-kv/concord/engine/dvv"

// Verdict is what a purge decision says about one key.
type Verdict int

const (
	// Ask: this replica's copy may be purged; ask the next replica.
	Ask Verdict = iota
	// Purge: every replica holds exactly this tombstone; remove it from
	// the others, then here.
	Purge
	// Live: the object has a live sibling.
	Live
	// Recent: a sibling is newer than the grace cutoff.
	Recent
	// Moving: a ring change is moving partitions.
	Moving
	// Unreachable: a replica is down or did not answer.
	Unreachable
	// Differs: a replica holds a different object (a write it has not
	// shared yet, or one it missed).
	Differs
)

func (v Verdict) String() string {
	switch v {
	case Ask:
		return "ask"
	case Purge:
		return "purge"
	case Live:
		return "keep: live sibling"
	case Recent:
		return "keep: too recent"
	case Moving:
		return "keep: partitions moving"
	case Unreachable:
		return "keep: a replica did not answer"
	case Differs:
		return "keep: a replica differs"
	}
	return "unknown"
}

// Purger reports whether self purges the tombstones of a partition whose
// preference list is pref: only its first replica does, so that two
// replicas never purge the same key at once.
func Purger(pref []string, self string) bool {
	return len(pref) > 0 && pref[0] == self
}

// Rule is what one purge round knows before it looks at any key.
type Rule struct {
	// Cutoff is in unix nanoseconds: an object with a sibling written after
	// it is too recent to purge.
	Cutoff int64
	// Moving is set while a ring change moves partitions: nothing is
	// purged, so a caller may skip the round.
	Moving bool
}

// Candidate judges this replica's copy of a key: [Ask] when it may be
// purged if the other replicas agree, otherwise why not.
func (r Rule) Candidate(obj dvv.Object) Verdict {
	switch {
	case r.Moving:
		return Moving
	case obj.HasLive():
		return Live
	case newest(obj) > r.Cutoff:
		return Recent
	}
	return Ask
}

// Check decides one key from the answers of its other replicas.
type Check struct {
	obj     dvv.Object
	waiting []string // replicas not asked yet, in preference-list order
	verdict Verdict
}

// Check starts the decision for obj, self's copy of a key whose preference
// list is pref.
func (r Rule) Check(obj dvv.Object, pref []string, self string) *Check {
	c := &Check{obj: obj, verdict: r.Candidate(obj)}
	for _, id := range pref {
		if id != self {
			c.waiting = append(c.waiting, id)
		}
	}
	c.settle()
	return c
}

// Next returns the replica to ask next, or false once the verdict is in.
func (c *Check) Next() (string, bool) {
	if c.verdict != Ask {
		return "", false
	}
	return c.waiting[0], true
}

// Answer records that replica id holds obj. Answers from a replica that is
// not the one [Check.Next] names are ignored.
func (c *Check) Answer(id string, obj dvv.Object) Verdict {
	if next, ok := c.Next(); ok && next == id {
		c.waiting = c.waiting[1:]
		if !obj.Equal(c.obj) {
			c.verdict = Differs
		}
		c.settle()
	}
	return c.verdict
}

// Unreachable records that replica id is down or its read failed.
func (c *Check) Unreachable(id string) Verdict {
	if next, ok := c.Next(); ok && next == id {
		c.verdict = Unreachable
	}
	return c.verdict
}

// Verdict is the decision so far: [Ask] while replicas remain to be asked.
func (c *Check) Verdict() Verdict { return c.verdict }

func (c *Check) settle() {
	if c.verdict == Ask && len(c.waiting) == 0 {
		c.verdict = Purge
	}
}

// newest is the latest sibling timestamp of an object.
func newest(o dvv.Object) int64 {
	var t int64
	for _, s := range o.Siblings() {
		t = max(t, s.Timestamp)
	}
	return t
}
