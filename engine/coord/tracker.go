package coord

import "slices"

// The trackers (this file, tracker_write.go and tracker_read.go) are the
// pure core of the request path, in the manner of etcd-io/raft: they decide
// which node to call for each place of a preference list, count the
// answers and say when a request is done, failed or still pending, and
// which replicas a read repairs. They start no goroutines, do no IO and
// never read the clock: [Coordinator.Write] and [Coordinator.Read] make the
// calls, wait for answers and timers, and feed each event in. Their
// scenario tests are the files in testdata/.

// attempt is one call a tracker asks its driver to make for a place: to the
// replica itself, to a fallback standing in for it, or (writes only) to
// keep a hint for it on the coordinator when no fallback is left.
type attempt struct {
	place    string // the preference-list node the call is for
	node     string // the node to call (the coordinator itself when local)
	fallback bool   // node stands in for place: a hint is sent, hints are read
	local    bool   // keep a hint for place on the coordinator: no answer
	sync     bool   // (writes) the node syncs before it answers: a durable acknowledgement
	upgrade  bool   // (writes) a place that acknowledged unsynced is asked again, synced
}

// placeState is where a place of the preference list is.
type placeState int

const (
	waiting    placeState = iota // an attempt is in flight
	answered                     // a node answered for the place
	unanswered                   // no node could answer for it
	held                         // not asked yet (a read asks R places first)
)

type place struct {
	id    string
	state placeState
	try   attempt // the attempt in flight, or the one that settled the place
}

// places are the places of one request and the fallbacks that may stand in
// for them: each place is tried at its own node first (when that node is
// alive, or is the coordinator), then at the next live fallback in ring
// order; a fallback stands in for one place at most, and one that failed
// is not tried again. Liveness is asked of alive when a node is about to be
// tried, as the caller's view says at that moment.
type places struct {
	self      string
	list      []*place // in the order given: the preference list's, fastest replicas first (replytimes.go)
	fallbacks []string // not handed out yet, in ring order
	keepHints bool     // when no fallback is left, keep a hint here (writes)
}

func newPlaces(ids []string, self string, fallbacks []string, keepHints bool) places {
	ps := places{self: self, fallbacks: fallbacks, keepHints: keepHints}
	for _, id := range ids {
		ps.list = append(ps.list, &place{id: id})
	}
	return ps
}

// start returns the first attempt of every place; places no node can
// answer for are settled at once.
func (ps *places) start(alive func(string) bool) []attempt {
	var out []attempt
	for _, p := range ps.list {
		if a, ok := ps.first(p, alive); ok {
			out = append(out, a)
		}
	}
	return out
}

// startSome returns the first attempts of k places and holds the others
// back: the coordinator's own place first (no network hop), then the
// places whose replica is alive, in the order given (the coordinator's:
// fastest first), then the rest
// (each at a fallback). A place no node can answer for does not count
// toward k.
func (ps *places) startSome(k int, alive func(string) bool) []attempt {
	rank := func(p *place) int {
		switch {
		case p.id == ps.self:
			return 0
		case alive(p.id):
			return 1
		}
		return 2
	}
	order := slices.Clone(ps.list)
	slices.SortStableFunc(order, func(a, b *place) int { return rank(a) - rank(b) })
	var out []attempt
	for _, p := range order {
		if len(out) == k {
			p.state = held
		} else if a, ok := ps.first(p, alive); ok {
			out = append(out, a)
		}
	}
	return out
}

// widen returns the first attempts of the places held back.
func (ps *places) widen(alive func(string) bool) []attempt {
	var out []attempt
	for _, p := range ps.list {
		if p.state != held {
			continue
		}
		p.state = waiting
		if a, ok := ps.first(p, alive); ok {
			out = append(out, a)
		}
	}
	return out
}

// first moves p to its first attempt: its own node when that is alive or
// the coordinator, else the next live fallback.
func (ps *places) first(p *place, alive func(string) bool) (attempt, bool) {
	if p.id == ps.self || alive(p.id) {
		p.try = attempt{place: p.id, node: p.id}
		return p.try, true
	}
	return ps.next(p, alive)
}

// next moves p to its next attempt after the current one failed, or
// settles it unanswered when there is none.
func (ps *places) next(p *place, alive func(string) bool) (attempt, bool) {
	if !p.try.local {
		for len(ps.fallbacks) > 0 {
			f := ps.fallbacks[0]
			ps.fallbacks = ps.fallbacks[1:]
			if alive(f) {
				p.try = attempt{place: p.id, node: f, fallback: true}
				return p.try, true
			}
		}
		if ps.keepHints {
			p.try = attempt{place: p.id, node: ps.self, local: true}
			return p.try, true
		}
	}
	p.state = unanswered
	return attempt{}, false
}

// waitingOn returns the place with an attempt in flight, nil if id is no
// such place.
func (ps *places) waitingOn(id string) *place {
	for _, p := range ps.list {
		if p.id == id && p.state == waiting {
			return p
		}
	}
	return nil
}

// fail records that the attempt in flight for a place failed and returns
// the next one, if any. A place with no attempt in flight is ignored.
func (ps *places) fail(id string, alive func(string) bool) (attempt, bool) {
	if p := ps.waitingOn(id); p != nil {
		return ps.next(p, alive)
	}
	return attempt{}, false
}

// count returns how many places are in state s.
func (ps *places) count(s placeState) int {
	n := 0
	for _, p := range ps.list {
		if p.state == s {
			n++
		}
	}
	return n
}

// finished reports whether no attempt is in flight: every place is
// settled or held back (and then never asked).
func (ps *places) finished() bool { return ps.count(waiting) == 0 }

// attempts bounds the attempts a request can make: one per place, one per
// fallback, one local hint per place.
func (ps *places) attempts() int { return 2*len(ps.list) + len(ps.fallbacks) }

// outcome is where a request stands.
type outcome int

const (
	pending outcome = iota // still waiting for answers
	done                   // the quorum is met
	failed                 // the quorum can no longer be met, or time ran out
)

func (o outcome) String() string {
	return [...]string{"pending", "done", "failed"}[o]
}
