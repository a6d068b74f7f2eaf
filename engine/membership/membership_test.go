package membership_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/hashicorp/memberlist"
)

func TestFiveNodesJoinThroughOneSeed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		for _, n := range c.nodes {
			ms := n.Members()
			if !slices.IsSortedFunc(ms, func(a, b membership.Member) int { return cmp.Compare(a.ID, b.ID) }) {
				t.Errorf("%s: Members not sorted by ID: %v", n.LocalID(), ms)
			}
			for i, m := range ms {
				if m.ID != nodeID(i) || m.State != membership.Alive || m.Addr != c.nodes[i].Addr() {
					t.Errorf("%s sees member %d = %+v, want %s alive at %s", n.LocalID(), i, m, nodeID(i), c.nodes[i].Addr())
				}
				if want := c.nodes[i].cfgMeta(); m.Meta != want {
					t.Errorf("%s sees %s meta %+v, want %+v", n.LocalID(), m.ID, m.Meta, want)
				}
			}
			if !n.Alive("n3") || n.Alive("n9") {
				t.Errorf("%s: Alive(n3)=%v Alive(n9)=%v", n.LocalID(), n.Alive("n3"), n.Alive("n9"))
			}
		}
		if got := c.nodes[2].Addr(); got != nodeAddr(2) {
			t.Errorf("Addr() = %q, want %q", got, nodeAddr(2))
		}
	})
}

func TestIsolatedNodeIsDeclaredDeadAndComesBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		others, lonely := c.nodes[:4], c.nodes[4]

		c.net.Isolate(lonely.addr)
		// Local timings: probe every 1 s, suspicion 3..18 s for 5 nodes.
		took := waitFor(t, 30*time.Second, "n5 dead everywhere else", func() bool {
			for _, n := range others {
				if stateOf(n, "n5") != membership.Dead {
					return false
				}
			}
			return true
		})
		t.Logf("n5 declared dead after %v (fake time)", took)
		// The isolated side is slower: its failed probes raise its
		// Lifeguard health score, which stretches its probe interval up
		// to 8x, and no peer confirms its suspicions (max timeout 18 s).
		waitFor(t, 90*time.Second, "n5 sees the others dead", func() bool {
			return countState(lonely.Members(), membership.Dead) == 4
		})

		c.net.Heal()
		took = waitFor(t, 60*time.Second, "all alive again", func() bool {
			for _, n := range c.nodes {
				if countState(n.Members(), membership.Alive) != 5 {
					return false
				}
			}
			return true
		})
		t.Logf("merged after %v (fake time)", took)
	})
}

func TestPublishedDocReachesAll(t *testing.T) {
	t.Parallel()
	for _, loss := range []float64{0, 0.2} {
		t.Run(fmt.Sprintf("loss=%v", loss), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c := newCluster(t, 5, nil)
				c.joinAll()
				c.net.SetLoss(loss)
				doc := membership.Doc{Name: "ring", Version: 1, Data: []byte("epoch 1")}
				if err := c.nodes[2].Publish(doc); err != nil {
					t.Fatal(err)
				}
				took := waitForDoc(t, c.nodes, doc, 60*time.Second)
				t.Logf("spread in %v (fake time), network %+v", took, c.net.Stats())
				synctest.Wait() // let the OnDoc goroutines run
				for _, n := range c.nodes {
					if got := n.delivered(); len(got) != 1 || !sameDoc(got[0], doc) {
						t.Errorf("%s: OnDoc got %v, want exactly %v", n.LocalID(), got, doc)
					}
				}
			})
		})
	}
}

func TestConcurrentPublishOfOneVersionConverges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		a := membership.Doc{Name: "namespaces", Version: 7, Data: []byte("edit from n1")}
		b := membership.Doc{Name: "namespaces", Version: 7, Data: []byte("edit from n4")}
		winner, loser := a, b
		if b.Supersedes(a) {
			winner, loser = b, a
		}
		var wg sync.WaitGroup
		for _, p := range []struct {
			n *node
			d membership.Doc
		}{{c.nodes[0], a}, {c.nodes[3], b}} {
			wg.Go(func() {
				if err := p.n.Publish(p.d); err != nil && !errors.Is(err, membership.ErrStaleDoc) {
					t.Errorf("Publish: %v", err)
				}
			})
		}
		wg.Wait()
		waitForDoc(t, c.nodes, winner, 60*time.Second)
		synctest.Wait()
		for _, n := range c.nodes {
			got := n.delivered()
			if len(got) == 0 || !sameDoc(got[len(got)-1], winner) {
				t.Errorf("%s: last OnDoc %v, want the winner", n.LocalID(), got)
			}
		}
		if err := c.nodes[1].Publish(loser); !errors.Is(err, membership.ErrStaleDoc) {
			t.Errorf("publishing the loser again: err = %v, want ErrStaleDoc", err)
		}
		if err := c.nodes[1].Publish(winner); err != nil {
			t.Errorf("publishing the document already held: %v", err)
		}
	})
}

func TestPartitionedNodeConvergesAfterHealing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		majority, minority := c.nodes[:3], c.nodes[3:]
		c.net.Partition(c.addrs(majority...), c.addrs(minority...))

		var want []membership.Doc
		for v := uint64(1); v <= 3; v++ {
			ring := membership.Doc{Name: "ring", Version: v, Data: fmt.Appendf(nil, "ring epoch %d", v)}
			if err := c.nodes[v%3].Publish(ring); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			want = append(want[:0], ring)
		}
		ns := membership.Doc{Name: "namespaces", Version: 1, Data: []byte("cart,users")}
		if err := c.nodes[0].Publish(ns); err != nil {
			t.Fatal(err)
		}
		want = append(want, ns)
		for _, d := range want {
			waitForDoc(t, majority, d, 30*time.Second)
		}
		// Let every broadcast run out: only anti-entropy can help the minority now.
		time.Sleep(30 * time.Second)
		for _, n := range minority {
			if docs := n.Docs(); len(docs) != 0 {
				t.Fatalf("%s got %v across the partition", n.LocalID(), docs)
			}
		}

		c.net.Heal()
		for _, d := range want {
			waitForDoc(t, c.nodes, d, 90*time.Second)
		}
		synctest.Wait()
		for _, n := range minority {
			if got := n.delivered(); len(got) != 2 {
				t.Errorf("%s: OnDoc got %d docs, want the 2 latest (no stale versions)", n.LocalID(), len(got))
			}
		}
	})
}

func TestLargeDocSpreads(t *testing.T) {
	t.Parallel()
	data := make([]byte, 100<<10) // far over the ~1.4 KB gossip packet
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	v1 := membership.Doc{Name: "modules", Version: 1, Data: data}
	v2 := membership.Doc{Name: "modules", Version: 2, Data: bytes.Repeat([]byte("x"), 100<<10)}
	tests := []struct {
		name   string
		nodes  int
		within time.Duration
		tune   func(int, *membership.Config)
	}{
		// Announcements plus push/pull anti-entropy (every 15 s).
		{"five nodes", 5, 40 * time.Second, nil},
		// No periodic push/pull and no reconnects: only the announcement
		// and the pull it triggers can carry the document. With three
		// nodes every gossip round reaches both peers.
		{"announce and pull only", 3, 5 * time.Second, func(_ int, c *membership.Config) {
			c.ReconnectInterval = -1
			c.Tune = func(mc *memberlist.Config) { mc.PushPullInterval = 0 }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c := newCluster(t, tt.nodes, tt.tune)
				c.joinAll()
				pushPulls := func() (n int64) {
					for _, m := range c.nodes {
						n += m.PushPulls()
					}
					return n
				}
				joined := pushPulls()
				if err := c.nodes[1].Publish(v1); err != nil {
					t.Fatal(err)
				}
				took := waitForDoc(t, c.nodes, v1, tt.within)
				t.Logf("100 KiB doc spread in %v (fake time)", took)
				// A newer large version replaces it everywhere.
				if err := c.nodes[len(c.nodes)-1].Publish(v2); err != nil {
					t.Fatal(err)
				}
				waitForDoc(t, c.nodes, v2, tt.within)
				if tt.tune != nil && pushPulls() != joined {
					// Without periodic push/pull, only a pull could have
					// sent a state: the announced document is asked for
					// alone, not with the whole document set.
					t.Errorf("%d push/pull states sent while the documents spread, want none", pushPulls()-joined)
				}
			})
		})
	}
}

func TestMetaUpdatePropagates(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		watcher := c.nodes[0]
		drain(watcher.Events())

		meta := membership.Meta{PeerAddr: "10.9.9.9:7000", APIAddr: "10.9.9.9:8080", Zone: "zone-b"}
		if err := c.nodes[2].UpdateMeta(meta); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "new meta everywhere", func() bool {
			for _, n := range c.nodes {
				if m, _ := n.Member("n3"); m.Meta != meta {
					return false
				}
			}
			return true
		})
		if !slices.ContainsFunc(drain(watcher.Events()), func(e membership.Event) bool {
			return e.Kind == membership.EventUpdated && e.Member.ID == "n3" && e.Member.Meta == meta
		}) {
			t.Error("no EventUpdated for n3 with the new meta")
		}
		huge := membership.Meta{Zone: string(make([]byte, membership.MaxMetaSize))}
		if err := c.nodes[2].UpdateMeta(huge); !errors.Is(err, membership.ErrMetaTooLarge) {
			t.Errorf("UpdateMeta(huge) = %v, want ErrMetaTooLarge", err)
		}
	})
}

func TestEventsReportJoinsFailuresAndLeaves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		watcher := c.nodes[0]
		c.joinAll()
		joined := map[string]bool{}
		for _, e := range drain(watcher.Events()) {
			if e.Kind == membership.EventJoined && e.Member.State == membership.Alive {
				joined[e.Member.ID] = true
			}
		}
		if len(joined) != 5 {
			t.Errorf("joins seen by n1: %v, want n1..n5", joined)
		}

		// n3 crashes: it is declared dead.
		if err := c.nodes[2].Close(); err != nil {
			t.Fatal(err)
		}
		// n4 leaves politely: it is recorded as left.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := c.nodes[3].Leave(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[3].Close(); err != nil {
			t.Fatal(err)
		}
		var events []membership.Event
		waitFor(t, 40*time.Second, "n3 dead and n4 left", func() bool {
			events = append(events, drain(watcher.Events())...)
			return stateOf(watcher, "n3") == membership.Dead && stateOf(watcher, "n4") == membership.Left
		})
		for id, want := range map[string]membership.State{"n3": membership.Dead, "n4": membership.Left} {
			if !slices.ContainsFunc(events, func(e membership.Event) bool {
				return e.Kind == membership.EventLeft && e.Member.ID == id && e.Member.State == want
			}) {
				t.Errorf("no EventLeft for %s with state %v in %v", id, want, events)
			}
		}
		if got := len(watcher.Members()); got != 5 {
			t.Errorf("Members() has %d entries, want 5 (dead and left included)", got)
		}

		// n3 restarts with the same ID and address and joins again.
		n3 := c.start(2, nil)
		if _, err := n3.Join(t.Context(), []string{watcher.addr}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 40*time.Second, "n3 alive again", func() bool {
			events = append(events, drain(watcher.Events())...)
			return watcher.Alive("n3")
		})
		if !slices.ContainsFunc(events, func(e membership.Event) bool {
			return e.Kind == membership.EventJoined && e.Member.ID == "n3"
		}) {
			t.Error("no EventJoined for the restarted n3")
		}
	})
}

func TestEventsDropOldestWhenFull(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 4, func(i int, cfg *membership.Config) {
			if i == 0 {
				cfg.EventBuffer = 2
			}
		})
		c.joinAll() // n1 sees 4 joins and nobody reads them
		if got := drain(c.nodes[0].Events()); len(got) != 2 {
			t.Errorf("buffer of 2 holds %d events: %v", len(got), got)
		}
		if got := len(c.nodes[1].Events()); got < 4 {
			t.Errorf("default buffer holds %d events, want all ≥ 4", got)
		}
	})
}

func TestLivenessNeverChangesDocs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 4, nil)
		c.joinAll()
		ring := membership.Doc{Name: "ring", Version: 3, Data: []byte("n1 n2 n3 n4")}
		if err := c.nodes[0].Publish(ring); err != nil {
			t.Fatal(err)
		}
		waitForDoc(t, c.nodes, ring, 30*time.Second)
		synctest.Wait()
		before := make([][]membership.Doc, len(c.nodes))
		for i, n := range c.nodes {
			before[i] = n.delivered()
		}

		c.net.Isolate(c.nodes[3].addr)
		waitFor(t, 40*time.Second, "n4 dead", func() bool { return stateOf(c.nodes[0], "n4") == membership.Dead })
		c.net.Heal()
		c.waitAlive(c.nodes, 4, 60*time.Second)
		synctest.Wait()

		for i, n := range c.nodes {
			if docs := n.Docs(); len(docs) != 1 || !sameDoc(docs[0], ring) {
				t.Errorf("%s: docs %v after a failure and recovery, want only %v", n.LocalID(), docs, ring)
			}
			if got := n.delivered(); len(got) != len(before[i]) {
				t.Errorf("%s: OnDoc called %d more times by liveness changes", n.LocalID(), len(got)-len(before[i]))
			}
		}
	})
}

func TestJoiningNodeGetsExistingDocs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		old := membership.Doc{Name: "ring", Version: 1, Data: []byte("old")}
		cur := membership.Doc{Name: "ring", Version: 2, Data: []byte("current")}
		ns := membership.Doc{Name: "namespaces", Version: 1, Data: []byte("cart")}
		c := newCluster(t, 3, func(i int, cfg *membership.Config) {
			switch i {
			case 0: // loaded from the node's store
				cfg.Docs = []membership.Doc{old, cur, ns}
			case 2: // a node that was down for a while
				cfg.Docs = []membership.Doc{old}
			}
		})
		if got, _ := c.nodes[0].Doc("ring"); !sameDoc(got, cur) {
			t.Errorf("initial docs not merged: ring = %v", got)
		}
		if n := len(c.nodes[0].delivered()); n != 0 {
			t.Errorf("OnDoc called %d times for initial docs", n)
		}
		c.joinAll() // the join's push/pull carries the documents
		for _, d := range []membership.Doc{cur, ns} {
			waitForDoc(t, c.nodes, d, time.Second)
		}
	})
}

func TestPublishValidates(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 1, nil)
		n := c.nodes[0]
		for _, d := range []membership.Doc{
			{Name: "", Version: 1},
			{Name: string(make([]byte, membership.MaxDocNameLen+1)), Version: 1},
			{Name: "big", Version: 1, Data: make([]byte, membership.MaxDocSize+1)},
		} {
			if err := n.Publish(d); !errors.Is(err, membership.ErrInvalidDoc) {
				t.Errorf("Publish(name len %d, data len %d) = %v, want ErrInvalidDoc", len(d.Name), len(d.Data), err)
			}
		}
		data := []byte("v1")
		if err := n.Publish(membership.Doc{Name: "d", Version: 1, Data: data}); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X' // Publish copied it
		if got, _ := n.Doc("d"); string(got.Data) != "v1" {
			t.Errorf("stored data aliased the caller's slice: %q", got.Data)
		}
		if err := n.Publish(membership.Doc{Name: "d", Version: 0, Data: []byte("older")}); !errors.Is(err, membership.ErrStaleDoc) {
			t.Errorf("older version: err = %v, want ErrStaleDoc", err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := n.Publish(membership.Doc{Name: "d", Version: 9}); !errors.Is(err, membership.ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
		if _, err := n.Join(t.Context(), []string{"127.0.0.9:7946"}); !errors.Is(err, membership.ErrClosed) {
			t.Errorf("Join after Close = %v, want ErrClosed", err)
		}
		for range n.Events() { // ends: Close closed the channel
		}
	})
}

func TestJoinUnreachableSeedFails(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 1, nil)
		got, err := c.nodes[0].Join(t.Context(), []string{"127.0.0.99:7946"})
		if err == nil || got != 0 {
			t.Errorf("Join(nobody) = %d, %v; want 0 and an error", got, err)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  membership.Config
		want error
	}{
		{"no node ID", membership.Config{}, membership.ErrInvalidConfig},
		{"slash in node ID", membership.Config{NodeID: "a/b"}, membership.ErrInvalidConfig},
		{"bad port", membership.Config{NodeID: "a", BindPort: 70000}, membership.ErrInvalidConfig},
		{"bind addr not an IP", membership.Config{NodeID: "a", BindAddr: "localhost"}, membership.ErrInvalidConfig},
		{"short secret key", membership.Config{NodeID: "a", SecretKey: []byte("short")}, membership.ErrInvalidConfig},
		{"secondary keys without a secret key", membership.Config{NodeID: "a", SecondaryKeys: [][]byte{make([]byte, 16)}}, membership.ErrInvalidConfig},
		{"short secondary key", membership.Config{NodeID: "a", SecretKey: make([]byte, 16), SecondaryKeys: [][]byte{[]byte("short")}}, membership.ErrInvalidConfig},
		{"meta too large", membership.Config{NodeID: "a", Meta: membership.Meta{APIAddr: string(make([]byte, 600))}}, membership.ErrMetaTooLarge},
		{"doc without name", membership.Config{NodeID: "a", Docs: []membership.Doc{{Version: 1}}}, membership.ErrInvalidDoc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := membership.New(tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDocSupersedes(t *testing.T) {
	t.Parallel()
	a := membership.Doc{Name: "x", Version: 5, Data: []byte("a")}
	b := membership.Doc{Name: "x", Version: 5, Data: []byte("b")}
	hi, lo := a, b
	if sa, sb := a.Sum(), b.Sum(); bytes.Compare(sa[:], sb[:]) < 0 {
		hi, lo = b, a
	}
	tests := []struct {
		name string
		d, o membership.Doc
		want bool
	}{
		{"higher version wins", membership.Doc{Version: 6}, a, true},
		{"lower version loses", membership.Doc{Version: 4, Data: []byte("zzz")}, a, false},
		{"equal version: larger digest wins", hi, lo, true},
		{"equal version: smaller digest loses", lo, hi, false},
		{"identical does not supersede", a, a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.d.Supersedes(tt.o); got != tt.want {
				t.Errorf("Supersedes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMetaEncoding(t *testing.T) {
	t.Parallel()
	m := membership.Meta{PeerAddr: "10.0.0.1:7000", APIAddr: "[::1]:8080", Zone: "eu-west-1a"}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1+3+len(m.PeerAddr)+len(m.APIAddr)+len(m.Zone) {
		t.Errorf("encoding not compact: %d bytes", len(b))
	}
	var got membership.Meta
	if err := got.UnmarshalBinary(b); err != nil || got != m {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, m)
	}
	for _, bad := range [][]byte{{9}, {1, 5, 'a'}, {1, 0xff}} {
		if err := got.UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%v) succeeded", bad)
		}
	}
	limit := membership.Meta{Zone: string(make([]byte, membership.MaxMetaSize-5))} // format, 3 lengths (the last takes 2 bytes)
	if _, err := limit.MarshalBinary(); err != nil {
		t.Errorf("meta of exactly MaxMetaSize bytes: %v", err)
	}
	limit.Zone += "x"
	if _, err := limit.MarshalBinary(); !errors.Is(err, membership.ErrMetaTooLarge) {
		t.Errorf("meta of MaxMetaSize+1 bytes: %v, want ErrMetaTooLarge", err)
	}
}

// waitForDoc waits until every node holds want and returns how long it took.
func waitForDoc(t *testing.T, nodes []*node, want membership.Doc, within time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, within, fmt.Sprintf("doc %q v%d everywhere", want.Name, want.Version), func() bool {
		for _, n := range nodes {
			if got, ok := n.Doc(want.Name); !ok || !sameDoc(got, want) {
				return false
			}
		}
		return true
	})
}

// drain returns the events queued on ch without waiting.
func drain(ch <-chan membership.Event) []membership.Event {
	var out []membership.Event
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}
