package coord

import "github.com/concord-kv/concord/engine/errs"

// writeTracker counts the acknowledgements of one write. The coordinator's
// own copy is the first (durable when the write was synced); each other
// place of the preference list acknowledges through its replica or a
// fallback that keeps a hint for it, or, when neither answers, does not
// acknowledge at all (the coordinator keeps the hint). The write is done
// after W acknowledgements of which DW durable, and failed when every place
// has settled short of that or when time runs out; the answer is fixed at
// that moment, while the places go on settling in the background.
type writeTracker struct {
	places
	w, dw         int
	acks, durable int
	outcome       outcome
	answer        int // acks when the outcome was decided
}

// newWriteTracker tracks a write to the preference list pref (self, the
// coordinator, already holds it) with fallbacks after it in ring order.
func newWriteTracker(pref []string, self string, fallbacks []string, w, dw int, localDurable bool) *writeTracker {
	var others []string
	for _, id := range pref {
		if id != self {
			others = append(others, id)
		}
	}
	t := &writeTracker{places: newPlaces(others, self, fallbacks, true), w: w, dw: dw, acks: 1}
	if localDurable {
		t.durable = 1
	}
	return t
}

// start returns the first attempts: a send to every other place.
func (t *writeTracker) start(alive func(string) bool) []attempt {
	as := t.places.start(alive)
	t.decide()
	return as
}

// ack records that the attempt for place acknowledged the write. It reports
// false, changing nothing, when place has no attempt in flight or its
// attempt is a local hint (which never acknowledges).
func (t *writeTracker) ack(place string, durable bool) bool {
	p := t.waitingOn(place)
	if p == nil || p.try.local {
		return false
	}
	p.state = answered
	t.acks++
	if durable {
		t.durable++
	}
	t.decide()
	return true
}

// fail records that the attempt for place failed (or, for a local hint,
// ended) and returns the next attempt for it, if any.
func (t *writeTracker) fail(place string, alive func(string) bool) (attempt, bool) {
	a, ok := t.places.fail(place, alive)
	t.decide()
	return a, ok
}

// timeout fails a write still pending.
func (t *writeTracker) timeout() { t.settle(failed) }

// decided reports whether the write has its answer.
func (t *writeTracker) decided() bool { return t.outcome != pending }

func (t *writeTracker) decide() {
	switch {
	case t.acks >= t.w && t.durable >= t.dw:
		t.settle(done)
	case t.finished():
		t.settle(failed)
	}
}

func (t *writeTracker) settle(o outcome) {
	if t.outcome == pending {
		t.outcome, t.answer = o, t.acks
	}
}

// result is the write's answer once decided: the acknowledgements counted
// by then and, if it failed, the quorum error.
func (t *writeTracker) result() (acks int, err error) {
	if t.outcome == failed {
		return t.answer, &errs.QuorumError{Op: "write", Need: t.w, Got: t.answer}
	}
	return t.answer, nil
}
