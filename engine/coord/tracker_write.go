package coord

import "github.com/concord-kv/concord/engine/errs"

// writeTracker counts the acknowledgements of one write. The coordinator's
// own copy is one: at once for a buffered write, and for a synced one when
// its WAL sync returns (the coordinator applies the write unsynced and
// syncs while the others write, so a put waits for one fsync, not two in
// a row); a failed local sync is no acknowledgement. Each other
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
	local         localState
	outcome       outcome
	answer        int // acks when the outcome was decided
}

// localState is where the coordinator's own copy of a write is.
type localState int

const (
	localApplied localState = iota // applied, not synced: a buffered write's acknowledgement
	localSyncing                   // applied, its sync in flight: no acknowledgement yet
	localSynced                    // synced: a durable acknowledgement
	localFailed                    // the sync failed: no acknowledgement
)

// newWriteTracker tracks a write to the preference list pref (self, the
// coordinator, has applied it) with fallbacks after it in ring order. A
// synced write's own copy acknowledges when [writeTracker.synced] says so.
func newWriteTracker(pref []string, self string, fallbacks []string, w, dw int, sync bool) *writeTracker {
	var others []string
	for _, id := range pref {
		if id != self {
			others = append(others, id)
		}
	}
	t := &writeTracker{places: newPlaces(others, self, fallbacks, true), w: w, dw: dw}
	if sync {
		t.local = localSyncing
	} else {
		t.acks = 1
	}
	return t
}

// synced records the end of the coordinator's own sync: a durable
// acknowledgement when ok. It reports false, changing nothing, when no
// sync is in flight.
func (t *writeTracker) synced(ok bool) bool {
	if t.local != localSyncing {
		return false
	}
	t.local = localFailed
	if ok {
		t.local = localSynced
		t.acks++
		t.durable++
	}
	t.decide()
	return true
}

// finished reports whether nothing is in flight: no send and no local sync.
func (t *writeTracker) finished() bool {
	return t.local != localSyncing && t.places.finished()
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
