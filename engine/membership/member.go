package membership

import (
	"fmt"
	"sync"
)

// State is a member's liveness as this node sees it.
type State int

const (
	// Alive: the member answers probes.
	Alive State = iota
	// Suspect: the member missed probes and may be declared dead.
	// memberlist v0.7 does not expose suspicion to its delegates, so this
	// package reports a suspected member as Alive until it is declared
	// dead; the value exists so callers can handle it when it is added.
	Suspect
	// Dead: the member was declared failed. It keeps its place in the ring
	// (liveness is not ownership); this node tries to reconnect to it.
	Dead
	// Left: the member announced that it left the cluster.
	Left
)

func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Member is a node of the cluster as this node sees it.
type Member struct {
	ID    string // the node ID (memberlist node name)
	Addr  string // gossip host:port
	Meta  Meta
	State State
}

// EventKind says what happened to a member.
type EventKind int

const (
	// EventJoined: a member became alive (first seen, or back after dying).
	EventJoined EventKind = iota
	// EventUpdated: an alive member changed its [Meta] or address.
	EventUpdated
	// EventLeft: a member was declared dead ([Dead]) or left ([Left]);
	// Event.Member.State tells which. A failure may be reported as Dead and
	// then again as Left when the member's leave notice arrives late.
	EventLeft
)

func (k EventKind) String() string {
	switch k {
	case EventJoined:
		return "joined"
	case EventUpdated:
		return "updated"
	case EventLeft:
		return "left"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event is a change of membership, delivered on [Membership.Events].
type Event struct {
	Kind   EventKind
	Member Member
}

// eventQueue is the Events channel with drop-oldest semantics: memberlist
// calls its event delegate with its node lock held, so a push must never
// block. When the buffer is full the oldest event is dropped; a reader
// that falls that far behind should resynchronise with Members.
type eventQueue struct {
	mu      sync.Mutex
	ch      chan Event
	closed  bool
	dropped uint64
}

func newEventQueue(size int) *eventQueue {
	return &eventQueue{ch: make(chan Event, size)}
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	for {
		select {
		case q.ch <- e:
			return
		default:
		}
		select {
		case <-q.ch:
			q.dropped++
		default:
		}
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}
