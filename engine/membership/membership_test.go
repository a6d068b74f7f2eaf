package membership_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/membership"
)

func TestFiveNodesJoinThroughOneSeed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		for _, n := range c.nodes {
			ms := n.Members()
			if !slices.IsSortedFunc(ms, func(a, b membership.Member) int { return cmpString(a.ID, b.ID) }) {
				t.Errorf("%s: Members not sorted by ID: %v", n.LocalID(), ms)
			}
			for i, m := range ms {
				if m.ID != nodeID(i) || m.Addr != nodeAddr(i) || m.State != membership.Alive {
					t.Errorf("%s sees member %d = %+v", n.LocalID(), i, m)
				}
				if want := c.nodes[i].Addr(); m.Addr != want {
					t.Errorf("%s sees %s at %s, it says %s", n.LocalID(), m.ID, m.Addr, want)
				}
				if m.Meta.Zone == "" || m.Meta.PeerAddr == "" {
					t.Errorf("%s sees %s without meta: %+v", n.LocalID(), m.ID, m.Meta)
				}
			}
		}
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var _ = time.Second
