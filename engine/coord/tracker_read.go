package coord

import (
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
)

// readTracker collects the replies of one read. A place of the preference
// list (the coordinator's included) is read at its replica or, when that
// is down or fails, at a fallback standing in for it, which answers with
// its copy merged with the hints it keeps. A read asks every place, or
// only R of them (the coordinator's own first, then live replicas) and
// the others once one of those fails or the driver stops waiting for them
// (widen). The read is done after R replies, with their merge, and failed
// when every place has settled short of R or when time runs out; the
// answer is fixed at that moment, while the remaining replies are merged
// in the background.
//
// Once every place has settled, the replicas to repair are those that
// answered for themselves with an object different from the merge of all
// replies. Fallbacks are never repaired: they are no replicas, what they
// hold reaches the owners by hint delivery, and a merged object written
// into their data would be a stray copy no one purges.
type readTracker struct {
	places
	r       int
	all     bool                  // ask every place at start, not R
	replies map[string]dvv.Object // by place
	merged  dvv.Object            // of every reply so far
	outcome outcome
	answer  dvv.Object // merged when the outcome was decided
	got     int        // replies when the outcome was decided
}

// newReadTracker tracks a read of the preference list pref by self, with
// fallbacks after it in ring order. all asks every place at start;
// otherwise R are asked and the rest held back.
func newReadTracker(pref []string, self string, fallbacks []string, r int, all bool) *readTracker {
	return &readTracker{places: newPlaces(pref, self, fallbacks, false), r: r, all: all, replies: map[string]dvv.Object{}}
}

// start returns the first attempts: a read of every place, or of R.
func (t *readTracker) start(alive func(string) bool) []attempt {
	var as []attempt
	if t.all {
		as = t.places.start(alive)
	} else {
		as = t.places.startSome(t.r, alive)
	}
	t.decide()
	return as
}

// widen returns reads of the places held back, if the read is still
// pending (a hedge against a slow replica).
func (t *readTracker) widen(alive func(string) bool) []attempt {
	if t.decided() {
		return nil
	}
	return t.places.widen(alive)
}

// reply records the object the attempt for place answered with. It reports
// false, changing nothing, when place has no attempt in flight.
func (t *readTracker) reply(place string, obj dvv.Object) bool {
	p := t.waitingOn(place)
	if p == nil {
		return false
	}
	p.state = answered
	t.replies[place] = obj
	t.merged = dvv.Sync(t.merged, obj)
	t.decide()
	return true
}

// fail records that the attempt for place failed and returns the next
// attempts: the place's own next one, if any, and, while the read is
// pending, reads of the places held back.
func (t *readTracker) fail(place string, alive func(string) bool) []attempt {
	var as []attempt
	if a, ok := t.places.fail(place, alive); ok {
		as = append(as, a)
	}
	as = append(as, t.widen(alive)...)
	t.decide()
	return as
}

// timeout fails a read still pending.
func (t *readTracker) timeout() { t.settle(failed) }

// decided reports whether the read has its answer.
func (t *readTracker) decided() bool { return t.outcome != pending }

func (t *readTracker) decide() {
	switch {
	case len(t.replies) >= t.r:
		t.settle(done)
	case t.finished():
		t.settle(failed)
	}
}

func (t *readTracker) settle(o outcome) {
	if t.outcome == pending {
		t.outcome, t.answer, t.got = o, t.merged, len(t.replies)
	}
}

// result is the read's answer once decided: the merge of the replies
// counted by then and their number, or the quorum error.
func (t *readTracker) result() (dvv.Object, int, error) {
	if t.outcome == failed {
		return dvv.Object{}, t.got, &errs.QuorumError{Op: "read", Need: t.r, Got: t.got}
	}
	return t.answer, t.got, nil
}

// repairs returns, once every place has settled, the merge of all replies
// and the replicas, in the order given, that answered for themselves
// with a different object.
func (t *readTracker) repairs() (dvv.Object, []string) {
	if !t.finished() {
		return dvv.Object{}, nil
	}
	var out []string
	for _, p := range t.list {
		if p.state == answered && !p.try.fallback && !t.replies[p.id].Equal(t.merged) {
			out = append(out, p.id)
		}
	}
	return t.merged, out
}
