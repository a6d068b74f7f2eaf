package membership

import "github.com/hashicorp/memberlist"

// inlineMargin is the room left in a gossip packet (UDPBufferSize) for
// memberlist's headers, encryption and its own broadcasts. A document
// message larger than UDPBufferSize-inlineMargin is announced instead of
// broadcast whole, because memberlist never sends a broadcast that does
// not fit in one packet.
const inlineMargin = 200

// broadcast is a named user message for memberlist's TransmitLimitedQueue:
// queueing a broadcast invalidates the queued one with the same name, so
// only the newest version of a document is retransmitted.
type broadcast struct {
	name   string
	msg    []byte
	notify chan struct{} // optional, buffered (1); signalled when finished
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	nb, ok := other.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}

func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }

func (b *broadcast) Finished() {
	if b.notify == nil {
		return
	}
	select {
	case b.notify <- struct{}{}:
	default:
	}
}
