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
//
// A synced write asks only as many places to sync as DW needs: the
// coordinator's own sync is one durable acknowledgement, so the first
// DW-1 places of the list it is given (the preference list, the replicas
// that answer fastest first: replytimes.go) are sent the write synced and the
// others unsynced (they still acknowledge, and their copy reaches the
// disk with their next sync). Each sync costs a node an fsync and its
// acknowledgement the wait for it; with the default DW=1 a put makes one
// fsync instead of N. When a durable acknowledgement that was counted on
// fails to come (the coordinator's sync fails, or a synced place ends
// unanswered), [writeTracker.upgrades] asks places that acknowledged
// unsynced to sync, one for each missing durable acknowledgement.
type writeTracker struct {
	places
	w, dw         int
	acks, durable int
	local         localState
	outcome       outcome
	answer        int // acks when the outcome was decided

	copies map[string]syncState // how each place's copy stands toward the disk; nil for a buffered write
}

// syncState is where one place's copy of a synced write stands toward the
// disk.
type syncState int

const (
	unsynced      syncState = iota // sent unsynced; acknowledged unsynced, if at all
	syncing                        // its attempt in flight is synced
	durableAck                     // acknowledged durably
	upgrading                      // acknowledged unsynced, and asked again, synced
	upgradeFailed                  // asked to sync and failed: not asked again
)

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
	if !sync {
		t.acks = 1
		return t
	}
	t.local = localSyncing
	t.copies = make(map[string]syncState, len(others))
	for i, id := range others {
		if i < dw-1 {
			t.copies[id] = syncing
		}
	}
	return t
}

// mark sets whether an attempt is synced: a synced write's attempts for
// the places it counts on for a durable acknowledgement are.
func (t *writeTracker) mark(a attempt) attempt {
	a.sync = t.copies[a.place] == syncing // false for a buffered write: its map is nil
	return a
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

// finished reports whether nothing is in flight and nothing more will be
// asked: no send, no local sync, and no place that could still be asked
// to sync for a durable acknowledgement the write lacks.
func (t *writeTracker) finished() bool {
	return t.local != localSyncing && t.places.finished() && t.copiesIn(upgrading) == 0 && !t.mayUpgrade()
}

// start returns the first attempts: a send to every other place.
func (t *writeTracker) start(alive func(string) bool) []attempt {
	as := t.places.start(alive)
	for i := range as {
		as[i] = t.mark(as[i])
	}
	t.decide()
	return as
}

// shortfall is how many more durable acknowledgements the write needs
// than it has or has in flight.
func (t *writeTracker) shortfall() int {
	if t.copies == nil || t.outcome != pending {
		return 0
	}
	expected := t.durable + t.copiesIn(upgrading)
	if t.local == localSyncing {
		expected++
	}
	for _, p := range t.list {
		if p.state == waiting && t.copies[p.id] == syncing && !p.try.local {
			expected++
		}
	}
	return t.dw - expected
}

// candidate returns the next place that acknowledged unsynced and may be
// asked to sync, nil if there is none.
func (t *writeTracker) candidate() *place {
	for _, p := range t.list {
		if p.state == answered && t.copies[p.id] == unsynced {
			return p
		}
	}
	return nil
}

// mayUpgrade reports whether the write lacks durable acknowledgements that
// asking a place to sync could still bring.
func (t *writeTracker) mayUpgrade() bool { return t.shortfall() > 0 && t.candidate() != nil }

// upgrades returns the attempts that ask places which acknowledged
// unsynced to sync, one for each durable acknowledgement the write lacks.
// The driver calls it after every event; each is answered through
// [writeTracker.upgraded].
func (t *writeTracker) upgrades() []attempt {
	var out []attempt
	for n := t.shortfall(); n > 0; n-- {
		p := t.candidate()
		if p == nil {
			break
		}
		t.copies[p.id] = upgrading
		a := p.try
		a.sync, a.upgrade = true, true
		out = append(out, a)
	}
	return out
}

// upgraded records the answer of an upgrade attempt: a durable
// acknowledgement when ok. It reports false, changing nothing, when no
// upgrade of place is in flight.
func (t *writeTracker) upgraded(place string, ok bool) bool {
	if t.copies[place] != upgrading {
		return false
	}
	t.copies[place] = upgradeFailed
	if ok {
		t.copies[place] = durableAck
		t.durable++
	}
	t.decide()
	return true
}

// copiesIn returns how many places' copies are in sync state s.
func (t *writeTracker) copiesIn(s syncState) int {
	n := 0
	for _, st := range t.copies {
		if st == s {
			n++
		}
	}
	return n
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
		if t.copies != nil {
			t.copies[place] = durableAck
		}
	} else if t.copies != nil {
		t.copies[place] = unsynced
	}
	t.decide()
	return true
}

// fail records that the attempt for place failed (or, for a local hint,
// ended) and returns the next attempt for it, if any: synced when the
// failed one was.
func (t *writeTracker) fail(place string, alive func(string) bool) (attempt, bool) {
	a, ok := t.places.fail(place, alive)
	if ok {
		a = t.mark(a)
	}
	t.decide()
	return a, ok
}

// attempts bounds the attempts a write can make: the places' and one
// upgrade per place.
func (t *writeTracker) attempts() int { return t.places.attempts() + len(t.list) }

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
