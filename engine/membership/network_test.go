package membership_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/hashicorp/memberlist"
)

// TestLoopbackSockets runs three nodes on memberlist's real network
// transport (TCP and UDP on 127.0.0.1, kernel-chosen ports). It cannot run
// in a synctest bubble: goroutines blocked in the network poller are not
// durably blocked, so fake time would never advance. It uses real time with
// short timings instead.
func TestLoopbackSockets(t *testing.T) {
	t.Parallel()
	fast := func(mc *memberlist.Config) {
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 20 * time.Millisecond
		mc.PushPullInterval = 2 * time.Second
	}
	var nodes []*membership.Membership
	for i := range 3 {
		m, err := membership.New(membership.Config{
			NodeID:   nodeID(i),
			BindAddr: "127.0.0.1",
			BindPort: 0,
			Meta:     membership.Meta{Zone: "z" + strconv.Itoa(i)},
			Local:    true,
			Logger:   testLogger(t).With("self", nodeID(i)),
			Tune:     fast,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		host, port, err := net.SplitHostPort(m.Addr())
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("Addr() = %q: want 127.0.0.1 and the bound port", m.Addr())
		}
		nodes = append(nodes, m)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, m := range nodes[1:] {
		if n, err := m.Join(ctx, []string{nodes[0].Addr()}); err != nil || n != 1 {
			t.Fatalf("Join = %d, %v", n, err)
		}
	}
	realWait(t, "3 alive everywhere", func() bool {
		for _, m := range nodes {
			if countState(m.Members(), membership.Alive) != 3 {
				return false
			}
		}
		return true
	})

	small := membership.Doc{Name: "ring", Version: 1, Data: []byte("n1 n2 n3")}
	large := membership.Doc{Name: "modules", Version: 1, Data: bytes.Repeat([]byte{0xAB}, 100<<10)}
	for _, d := range []membership.Doc{small, large} {
		if err := nodes[1].Publish(d); err != nil {
			t.Fatal(err)
		}
	}
	realWait(t, "both docs everywhere", func() bool {
		for _, m := range nodes {
			for _, want := range []membership.Doc{small, large} {
				if got, ok := m.Doc(want.Name); !ok || !sameDoc(got, want) {
					return false
				}
			}
		}
		return true
	})

	if err := nodes[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	realWait(t, "n3 left", func() bool {
		m, _ := nodes[0].Member("n3")
		return m.State == membership.Left
	})
}

// realWait polls cond for up to 10 s of real time.
func realWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
