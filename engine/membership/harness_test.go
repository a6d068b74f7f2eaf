package membership_test

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/membership/memnet"
)

// cluster is n nodes on one in-memory network. Create it inside a
// synctest bubble: memberlist's timers then run on fake time.
type cluster struct {
	t     *testing.T
	net   *memnet.Network
	nodes []*node
}

// node is a Membership with a record of its OnDoc calls.
type node struct {
	*membership.Membership
	addr string
	meta membership.Meta // as configured

	mu    sync.Mutex
	onDoc []membership.Doc
}

func (n *node) cfgMeta() membership.Meta { return n.meta }

func (n *node) delivered() []membership.Doc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.onDoc)
}

// testLogger logs memberlist and this package at debug level when
// MEMBERSHIP_LOG is set, and discards otherwise.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("MEMBERSHIP_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

func nodeID(i int) string   { return fmt.Sprintf("n%d", i+1) }
func nodeAddr(i int) string { return fmt.Sprintf("127.0.0.%d:7946", i+1) }

// newCluster starts n nodes (n1..nN at 127.0.0.1..N:7946) that have not
// joined each other; tune adjusts every node's config.
func newCluster(t *testing.T, n int, tune func(i int, c *membership.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.NewNetwork()}
	// Registered first, so it runs after every node's Close. memberlist's
	// Shutdown does not wait for a probe in flight, which waits for its
	// ack timer; once the test function has returned synctest no longer
	// advances fake time and would report those goroutines as deadlocked.
	// Sleeping past every memberlist timer lets them end: the longest is a
	// probe's ack timeout, ProbeInterval scaled by the health awareness
	// multiplier (up to AwarenessMaxMultiplier = 8 s with Local timings).
	t.Cleanup(func() { time.Sleep(30 * time.Second) })
	for i := range n {
		c.start(i, tune)
	}
	return c
}

// start (re)starts node i on its address.
func (c *cluster) start(i int, tune func(i int, c *membership.Config)) *node {
	c.t.Helper()
	nd := &node{addr: nodeAddr(i)}
	cfg := membership.Config{
		NodeID:    nodeID(i),
		Transport: c.net.NewTransport(nd.addr),
		Meta:      membership.Meta{PeerAddr: fmt.Sprintf("10.0.0.%d:7000", i+1), APIAddr: fmt.Sprintf("10.0.0.%d:8080", i+1), Zone: fmt.Sprintf("z%d", i%3)},
		Local:     true,
		Logger:    testLogger(c.t).With("self", nodeID(i)),
		OnDoc: func(d membership.Doc) {
			nd.mu.Lock()
			nd.onDoc = append(nd.onDoc, d)
			nd.mu.Unlock()
		},
	}
	if tune != nil {
		tune(i, &cfg)
	}
	m, err := membership.New(cfg)
	if err != nil {
		c.t.Fatalf("New(%s): %v", cfg.NodeID, err)
	}
	nd.Membership = m
	nd.meta = cfg.Meta
	c.t.Cleanup(func() { _ = m.Close() })
	if i < len(c.nodes) {
		c.nodes[i] = nd
	} else {
		c.nodes = append(c.nodes, nd)
	}
	return nd
}

// joinAll makes every node but the first join through the first.
func (c *cluster) joinAll() {
	c.t.Helper()
	for _, n := range c.nodes[1:] {
		if _, err := n.Join(c.t.Context(), []string{c.nodes[0].addr}); err != nil {
			c.t.Fatalf("%s join: %v", n.LocalID(), err)
		}
	}
	c.waitAlive(c.nodes, len(c.nodes), 40*time.Second) // push/pull (15 s) closes gaps in gossip
}

// waitAlive waits until every node in among sees exactly want alive members.
func (c *cluster) waitAlive(among []*node, want int, within time.Duration) {
	c.t.Helper()
	waitFor(c.t, within, fmt.Sprintf("%d alive members everywhere", want), func() bool {
		for _, n := range among {
			if countState(n.Members(), membership.Alive) != want {
				return false
			}
		}
		return true
	})
}

func (c *cluster) addrs(nodes ...*node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.addr)
	}
	return out
}

func countState(ms []membership.Member, s membership.State) int {
	n := 0
	for _, m := range ms {
		if m.State == s {
			n++
		}
	}
	return n
}

func stateOf(n *node, id string) membership.State {
	m, ok := n.Member(id)
	if !ok {
		return -1
	}
	return m.State
}

func sameDoc(a, b membership.Doc) bool {
	return a.Name == b.Name && a.Version == b.Version && string(a.Data) == string(b.Data)
}

// waitFor polls cond every 50 ms (of fake time inside a bubble) and fails
// the test if it does not hold within the given time. It returns how long
// it took.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not %s after %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}
