// Package clustertest runs an in-process concord cluster for tests: real
// nodes on real Pebble directories, run with their real Connect servers on
// loopback by internal/embed (as `concord serve` runs one), gossip
// over an in-memory network (memnet), and faults injected on both gossip and
// peer RPC: partitions, isolation, kills and restarts. Every cluster
// scenario test uses it.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/membership/memnet"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// T is what the harness needs of a test: *testing.T and *testing.B have it,
// and so can a program that runs a cluster outside tests (the examples).
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// Options shape a test cluster. Zero values take the defaults.
type Options struct {
	Nodes        int           // default 3
	N, R, W      uint32        // default namespace settings; default 3, 2, 2
	Partitions   int           // default 64 (small rings keep tests fast)
	HintInterval time.Duration // default 100ms; an hour turns hint delivery off
	AAEInterval  time.Duration // default 10ms
	PurgeGrace   time.Duration // tombstone grace; default 300ms
	// PurgeInterval is how often tombstones are checked for purging;
	// default 50ms. A check reads every object of the partitions the node
	// is first replica of: a test with many keys lengthens it.
	PurgeInterval time.Duration
	Logger        *slog.Logger // default: discard
	// Disk, when set, gives node i the filesystem Disk(i) returns (nil:
	// the node's temporary directory on the real disk): a fault-injecting
	// in-memory one from pebbletest, say. Such a node's store starts empty
	// at every start.
	Disk func(i int) vfs.FS
}

// Cluster is a running test cluster.
type Cluster struct {
	t    T
	opts Options
	Net  *memnet.Network
	// Nodes are the nodes the cluster started with; AddNode's nodes are not
	// appended here (tests read Nodes while the cluster runs).
	Nodes []*Node

	mu      sync.Mutex
	all     []*Node         // every node, AddNode's included
	blocked map[[2]int]bool // peer RPC blocked from → to
}

// Node is one member of a test cluster.
type Node struct {
	c      *Cluster
	Index  int
	dir    string
	gossip string
	// apiPort and peerPort stay open from the first start to the end of
	// the test, so a restart cannot lose its ports.
	apiPort, peerPort *port

	mu   sync.Mutex
	e    *embed.Embedded // nil while the node is down
	N    *node.Node
	API  string // http://host:port of the client API
	peer string // host:port of the peer service
}

// Start starts a cluster and forms it as an operator would
// ([embed.FormCluster]): the first node starts the cluster, the others
// start with it to join, and their joins are staged and committed on the
// first node. Start returns once every node has the ring and every
// partition has moved.
func Start(t T, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.N == 0 {
		opts.N, opts.R, opts.W = 3, 2, 2
	}
	if opts.Partitions == 0 {
		opts.Partitions = 64
	}
	if opts.HintInterval == 0 {
		opts.HintInterval = 100 * time.Millisecond
	}
	if opts.AAEInterval == 0 {
		opts.AAEInterval = 10 * time.Millisecond
	}
	if opts.PurgeGrace == 0 {
		opts.PurgeGrace = 300 * time.Millisecond
	}
	if opts.PurgeInterval == 0 {
		opts.PurgeInterval = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{t: t, opts: opts, Net: memnet.NewNetwork(), blocked: map[[2]int]bool{}}
	for i := range opts.Nodes {
		n := &Node{c: c, Index: i, dir: t.TempDir(), gossip: fmt.Sprintf("127.0.0.%d:7946", i+1)}
		c.Nodes = append(c.Nodes, n)
		c.all = append(c.all, n)
		n.start(t)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		all := slices.Clone(c.all)
		c.mu.Unlock()
		for _, n := range all {
			n.stop()
			n.closePorts()
		}
	})
	nodes := make([]*node.Node, len(c.Nodes))
	for i, n := range c.Nodes {
		nodes[i] = n.Node()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := embed.FormCluster(ctx, nodes...); err != nil {
		t.Fatalf("form the cluster: %v", err)
	}
	return c
}

// AddNode starts one more node that joins gossip (but not the ring: stage
// and commit it like an operator would).
func (c *Cluster) AddNode() *Node {
	c.t.Helper()
	c.mu.Lock()
	n := &Node{c: c, Index: len(c.all), dir: c.t.TempDir(), gossip: fmt.Sprintf("127.0.0.%d:7946", len(c.all)+1)}
	c.all = append(c.all, n)
	c.mu.Unlock()
	n.start(c.t)
	c.Eventually(func() bool { return c.Nodes[0].Node().Alive(n.ID()) }, "new node alive in gossip")
	return n
}

func (n *Node) start(t T) {
	t.Helper()
	c := n.c
	// A restarted node listens where it did before, as a real one would on
	// its configured ports (gossip then has nothing stale to correct): the
	// ports are held open across the kill (see port).
	if n.apiPort == nil {
		var err error
		if n.apiPort, err = newPort(); err == nil {
			n.peerPort, err = newPort()
		}
		if err != nil {
			n.closePorts()
			t.Fatalf("%v", err)
		}
	}
	cfg := embed.Config{APIListener: n.apiPort.open(), PeerListener: n.peerPort.open()}
	cfg.Node = node.DefaultConfig()
	cfg.Node.DataDir = n.dir
	if c.opts.Disk != nil {
		if fs := c.opts.Disk(n.Index); fs != nil {
			cfg.Node.DataDir, cfg.Node.FS = pebbletest.Dir, fs
		}
	}
	if n.Index == 0 {
		// The others take the cluster's credential from gossip.
		cfg.Node.AdminToken = testcred.AdminToken
	}
	cfg.Node.Partitions = c.opts.Partitions
	cfg.Node.Logger = c.opts.Logger.With("test_node", n.Index)
	cfg.Node.Namespace.N, cfg.Node.Namespace.R, cfg.Node.Namespace.W = c.opts.N, c.opts.R, c.opts.W
	cfg.Node.Cluster = &node.ClusterConfig{
		GossipAddr:      n.gossip,
		FastGossip:      true,
		HintInterval:    c.opts.HintInterval,
		AAEInterval:     c.opts.AAEInterval,
		PurgeInterval:   c.opts.PurgeInterval,
		TombstoneGrace:  c.opts.PurgeGrace,
		GossipTransport: c.Net.NewTransport(n.gossip),
		PeerHTTP:        peer.NewPlaintextClient(func(rt http.RoundTripper) http.RoundTripper { return &faultRT{c: c, from: n.Index, next: rt} }),
	}
	if n.Index > 0 {
		cfg.Node.Cluster.Join = []string{c.Nodes[0].gossip} // Nodes[0] never changes
	}
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start node %d: %v", n.Index, err)
	}
	n.mu.Lock()
	n.e, n.N, n.API, n.peer = e, e.Node(), "http://"+e.APIAddr(), e.PeerAddr()
	n.mu.Unlock()
}

// closePorts releases the node's ports when the cluster stops.
func (n *Node) closePorts() {
	for _, p := range []*port{n.apiPort, n.peerPort} {
		if p != nil {
			_ = p.Close()
		}
	}
}

func (n *Node) stop() {
	n.mu.Lock()
	e := n.e
	n.e = nil
	n.mu.Unlock()
	if e != nil {
		_ = e.Close()
	}
}

// Node returns the running node.
func (n *Node) Node() *node.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.N
}

// ID is the node's ID.
func (n *Node) ID() string { return n.Node().ID() }

// KV returns a client of the node's API.
func (n *Node) KV() kvv1connect.KVServiceClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	return kvv1connect.NewKVServiceClient(testcred.HTTPClient, n.API)
}

// Kill stops the node abruptly: it is cut off the network first, so it
// cannot say goodbye, then closed. Its data directory stays.
func (n *Node) Kill() {
	n.c.Net.Isolate(n.gossip)
	n.c.block(n.Index, true)
	n.stop()
}

// Restart starts a killed node again on its data directory, reconnects it,
// and waits until gossip sees every running node alive again.
func (n *Node) Restart() {
	n.c.t.Helper()
	n.c.unisolate(n.Index)
	n.start(n.c.t)
	n.c.waitHealthy()
}

func (n *Node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.e != nil
}

// waitHealthy waits until every running node sees every other running node
// alive (after a heal or a restart, gossip needs a moment).
func (c *Cluster) waitHealthy() {
	c.t.Helper()
	c.mu.Lock()
	all := slices.Clone(c.all)
	c.mu.Unlock()
	var up []*Node
	for _, n := range all {
		if n.running() {
			up = append(up, n)
		}
	}
	c.Eventually(func() bool {
		for _, a := range up {
			for _, b := range up {
				if !a.Node().Alive(b.ID()) {
					return false
				}
			}
		}
		return true
	}, "gossip sees every running node alive")
}

// Partition splits the cluster into groups of node indexes: gossip and peer
// RPC between groups fail; inside a group they work.
func (c *Cluster) Partition(groups ...[]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for gi, g := range groups {
		for gj, h := range groups {
			if gi == gj {
				continue
			}
			var a, b []string
			for _, i := range g {
				a = append(a, c.all[i].gossip)
				for _, j := range h {
					c.blocked[[2]int{i, j}] = true
				}
			}
			for _, j := range h {
				b = append(b, c.all[j].gossip)
			}
			c.Net.Partition(a, b)
		}
	}
}

// Heal ends every partition and isolation (killed nodes stay down) and
// waits until gossip sees every running node alive again.
func (c *Cluster) Heal() {
	c.t.Helper()
	c.mu.Lock()
	c.blocked = map[[2]int]bool{}
	c.Net.Heal()
	for i, n := range c.all {
		if !n.running() {
			c.isolateLocked(i)
		}
	}
	c.mu.Unlock()
	c.waitHealthy()
}

// isolateLocked cuts node i off gossip and peer RPC; c.mu is held.
func (c *Cluster) isolateLocked(i int) {
	c.Net.Isolate(c.all[i].gossip)
	for j := range c.all {
		if j != i {
			c.blocked[[2]int{i, j}] = true
			c.blocked[[2]int{j, i}] = true
		}
	}
}

func (c *Cluster) block(i int, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for j := range c.all {
		if j != i {
			c.blocked[[2]int{i, j}] = on
			c.blocked[[2]int{j, i}] = on
		}
	}
}

// unisolate reconnects node i. Other partitions in force stay.
func (c *Cluster) unisolate(i int) {
	c.block(i, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Net.Heal()
	// Re-apply the remaining peer blocks to gossip.
	for pair, on := range c.blocked {
		if on {
			c.Net.Partition([]string{c.all[pair[0]].gossip}, []string{c.all[pair[1]].gossip})
		}
	}
}

// Eventually polls cond until it holds, failing the test after 60 seconds.
func (c *Cluster) Eventually(cond func() bool, what string) {
	c.t.Helper()
	if err := wait.Within(context.Background(), 60*time.Second, cond); err != nil {
		c.t.Fatalf("timed out waiting for: %s", what)
	}
}

// faultRT fails peer calls that the cluster's faults block.
type faultRT struct {
	c    *Cluster
	from int
	next http.RoundTripper
}

var errPartitioned = errors.New("clustertest: partitioned")

// RoundTrip fails a call the faults block.
//
// A call is checked when it is sent and again when its answer comes back:
// an answer that arrives after a partition began is lost, as it would be on
// a real network (otherwise a read sent just before a partition could carry
// data written on the other side after it).
func (f *faultRT) RoundTrip(req *http.Request) (*http.Response, error) {
	to := f.c.indexOfPeer(req.URL.Host)
	if f.blocked(to) {
		return nil, errPartitioned
	}
	res, err := f.next.RoundTrip(req)
	if err == nil && f.blocked(to) {
		_ = res.Body.Close()
		return nil, errPartitioned
	}
	if err == nil && res.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
			// A peer stream: the faults apply to every frame it carries.
			res.Body = &faultStream{f: f, to: to, rwc: rwc}
		}
	}
	return res, err
}

// faultStream is a peer stream the faults cut: a read or write while the
// path is blocked fails, and the stream with it (the client then calls
// over Connect, through faultRT, until it opens another).
type faultStream struct {
	f   *faultRT
	to  int
	rwc io.ReadWriteCloser
}

func (s *faultStream) Read(p []byte) (int, error) {
	n, err := s.rwc.Read(p)
	if s.f.blocked(s.to) { // an answer that arrives after a partition began is lost
		_ = s.rwc.Close()
		return 0, errPartitioned
	}
	return n, err
}

func (s *faultStream) Write(p []byte) (int, error) {
	if s.f.blocked(s.to) {
		_ = s.rwc.Close()
		return 0, errPartitioned
	}
	return s.rwc.Write(p)
}

func (s *faultStream) Close() error { return s.rwc.Close() }

func (f *faultRT) blocked(to int) bool {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return to >= 0 && f.c.blocked[[2]int{f.from, to}]
}

func (c *Cluster) indexOfPeer(addr string) int {
	c.mu.Lock()
	all := slices.Clone(c.all)
	c.mu.Unlock()
	return slices.IndexFunc(all, func(n *Node) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.peer == addr
	})
}
