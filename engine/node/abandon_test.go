package node

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/membership"
)

// TestAbandonDownAbandonsMembersDeclaredDownOnly: the peer calls of a
// member gossip declares dead or gone are abandoned, by its peer address;
// a member joining or updated, this node itself, and a member without a
// peer address are not.
func TestAbandonDownAbandonsMembersDeclaredDownOnly(t *testing.T) {
	t.Parallel()
	member := func(id string, st membership.State) membership.Member {
		return membership.Member{ID: id, State: st, Meta: membership.Meta{PeerAddr: id + ":7701"}}
	}
	events := make(chan membership.Event, 8)
	events <- membership.Event{Kind: membership.EventJoined, Member: member("b", membership.Alive)}
	events <- membership.Event{Kind: membership.EventUpdated, Member: member("b", membership.Alive)}
	events <- membership.Event{Kind: membership.EventLeft, Member: member("b", membership.Dead)}
	events <- membership.Event{Kind: membership.EventLeft, Member: member("c", membership.Left)}
	events <- membership.Event{Kind: membership.EventLeft, Member: member("self", membership.Left)}
	events <- membership.Event{Kind: membership.EventLeft, Member: membership.Member{ID: "d", State: membership.Dead}}
	close(events)
	var abandoned []string
	abandonDown(events, "self", func(addr string) { abandoned = append(abandoned, addr) }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if want := []string{"b:7701", "c:7701"}; !slices.Equal(abandoned, want) {
		t.Errorf("abandoned %v, want %v", abandoned, want)
	}
}
