package concord_test

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// TestRoutingOnAThreeNodeCluster runs three `concord serve` processes and a
// namespace of two replicas per key, so that a third of the keys have no
// replica on any given node, and checks what partition-aware routing
// saves, how it survives a stale topology, and Update under contention.
func TestRoutingOnAThreeNodeCluster(t *testing.T) {
	t.Parallel()
	const ns = "routed"
	nodes := startCluster(t, ns, 2)
	ctx := t.Context()
	first := nodes[0]
	newClient := func(hc *countingClient, opts ...concord.Option) *concord.Client {
		return concord.New(first.Endpoint, append([]concord.Option{
			concord.WithHTTPClient(hc), concord.WithToken(testcred.AdminToken), concord.WithNamespace(ns),
		}, opts...)...)
	}
	hops := func() (forwarded, remote float64) {
		return sumMetric(ctx, t, nodes, "concord_forwarded_writes_total"), sumMetric(ctx, t, nodes, "concord_remote_reads_total")
	}
	putAndGet := func(t *testing.T, c *concord.Client, prefix string) {
		t.Helper()
		for i := range 200 {
			key := fmt.Appendf(nil, "%s-%03d", prefix, i)
			if _, err := c.Put(ctx, key, key); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			obj, err := c.Get(ctx, key)
			if err != nil || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != string(key) {
				t.Fatalf("get %s: %+v %v", key, obj, err)
			}
		}
	}

	// Given only node 1's endpoint, a routing client sends every request to
	// a node of the key's preference list: no node forwards a write or
	// reads a key it holds no replica of.
	t.Run("routed", func(t *testing.T) {
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		fw0, rr0 := hops()
		putAndGet(t, c, "routed")
		fw, rr := hops()
		if fw != fw0 || rr != rr0 {
			t.Fatalf("with routing: %v forwarded writes, %v remote reads; want 0", fw-fw0, rr-rr0)
		}
		if hc.hosts() != 3 || hc.method("GetTopology") != 1 {
			t.Fatalf("with routing: requests to %d nodes, %d topology fetches; want 3 and 1", hc.hosts(), hc.method("GetTopology"))
		}
	})

	// An answer from a node whose ring is newer than the client's topology
	// (its Concord-Ring-Epoch header) makes the next call fetch the
	// topology again, long before the topology's age would.
	t.Run("newer ring epoch", func(t *testing.T) {
		var top *kvv1.GetTopologyResponse
		eventually(t, "every node on the same ring epoch", func() bool {
			epochs := map[uint64]bool{}
			for _, n := range nodes {
				res, err := kvv1connect.NewKVServiceClient(testcred.HTTPClient, n.Endpoint).GetTopology(ctx, &kvv1.GetTopologyRequest{Namespace: ns})
				if err != nil {
					return false
				}
				epochs[res.GetRingEpoch()], top = true, res
			}
			return len(epochs) == 1
		})
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		top.RingEpoch-- // the same placement, an older ring
		if err := c.SetTopology(ns, top); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := c.Get(ctx, fmt.Appendf(nil, "epoch-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := hc.method("GetTopology"); got != 1 {
			t.Fatalf("%d topology fetches after answers from a newer ring, want 1", got)
		}
	})

	// Without routing node 1 forwards the writes and coordinates remote
	// reads of the keys it holds no replica of (so the check above can
	// fail).
	t.Run("not routed", func(t *testing.T) {
		c := newClient(newCountingClient())
		fw0, rr0 := hops()
		putAndGet(t, c, "unrouted")
		fw, rr := hops()
		if fw == fw0 || rr == rr0 {
			t.Fatalf("without routing: %v forwarded writes, %v remote reads; want some of each", fw-fw0, rr-rr0)
		}
	})

	t.Run("stale topology", func(t *testing.T) {
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		real, bits := topologyOf(t, first.Endpoint, ns)
		partition := func(key []byte) int { return concord.PartitionOf(real.GetPlacementName(), key, bits) }
		deadKey, wrongKey := []byte("stale-dead"), []byte("stale-wrong")
		for i := 0; partition(wrongKey) == partition(deadKey) && i < 1000; i++ {
			wrongKey = []byte("stale-wrong-" + strconv.Itoa(i))
		}
		if partition(wrongKey) == partition(deadKey) {
			t.Fatal("no two keys in different partitions")
		}
		// A node that is not in wrongKey's preference list.
		wrong := -1
		for i := range real.GetNodes() {
			if !slices.Contains(real.GetPreferenceLists()[partition(wrongKey)].GetNodes(), uint32(i)) {
				wrong = i
			}
		}
		if wrong < 0 {
			t.Fatal("every node replicates wrongKey; the namespace should have n=2 of 3")
		}
		var wrongNode *procs.Node
		for _, n := range nodes {
			if n.Endpoint == "http://"+real.GetNodes()[wrong].GetApiAddr() {
				wrongNode = n
			}
		}
		// The stale topology: deadKey's list starts with a node that is
		// gone, wrongKey's with a live node that holds no replica of it.
		ghost := "127.0.0.1:" + strconv.Itoa(procs.FreePort(t))
		stale := proto.Clone(real).(*kvv1.GetTopologyResponse)
		stale.Nodes = append(stale.Nodes, &kvv1.TopologyNode{Id: "ghost", ApiAddr: ghost})
		dead := stale.PreferenceLists[partition(deadKey)]
		dead.Nodes = append([]uint32{uint32(len(stale.Nodes) - 1)}, dead.Nodes...)
		misplaced := stale.PreferenceLists[partition(wrongKey)]
		misplaced.Nodes = append([]uint32{uint32(wrong)}, misplaced.Nodes...)

		// A dead node first: the put fails over to the next node of the
		// list, and the next call fetches the topology again.
		if err := c.SetTopology(ns, stale); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, deadKey, []byte("v")); err != nil {
			t.Fatalf("put with a dead node first: %v", err)
		}
		if hc.host(ghost) != 1 || hc.method("GetTopology") != 0 {
			t.Fatalf("%d calls to the dead node, %d topology fetches; want 1 and 0", hc.host(ghost), hc.method("GetTopology"))
		}
		if obj, err := c.Get(ctx, deadKey); err != nil || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != "v" {
			t.Fatalf("get after the failover: %+v %v", obj, err)
		}
		if hc.host(ghost) != 1 || hc.method("GetTopology") != 1 {
			t.Fatalf("after the failover: %d calls to the dead node, %d topology fetches; want 1 and 1", hc.host(ghost), hc.method("GetTopology"))
		}

		// A live node that holds no replica first: it forwards the write,
		// whose answer names another coordinator, so the next call fetches
		// the topology again and goes to the right node.
		if err := c.SetTopology(ns, stale); err != nil {
			t.Fatal(err)
		}
		fetches := hc.method("GetTopology")
		fw0 := procs.Metric(ctx, testcred.HTTPClient, wrongNode.Admin, "concord_forwarded_writes_total")
		written, err := c.Put(ctx, wrongKey, []byte("v1"))
		if err != nil {
			t.Fatalf("put through a node without a replica: %v", err)
		}
		if fw := procs.Metric(ctx, testcred.HTTPClient, wrongNode.Admin, "concord_forwarded_writes_total"); fw != fw0+1 {
			t.Fatalf("the misplaced node forwarded %v writes, want 1", fw-fw0)
		}
		fwAll, _ := hops()
		if _, err := c.Put(ctx, wrongKey, []byte("v2"), concord.After(written)); err != nil {
			t.Fatal(err)
		}
		if got := hc.method("GetTopology"); got != fetches+1 {
			t.Fatalf("%d topology fetches after a forwarded write, want 1", got-fetches)
		}
		if fw, _ := hops(); fw != fwAll {
			t.Fatalf("after the refresh, %v more writes were forwarded", fw-fwAll)
		}
	})

	// A node that takes a request and drops the connection may have
	// applied the write: the client does not send it to a second node. A
	// read goes on to the next node.
	t.Run("no second coordinator", func(t *testing.T) {
		var (
			mu    sync.Mutex
			taken []string
		)
		dropper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			taken = append(taken, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			mu.Unlock()
			_, _ = io.Copy(io.Discard, r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}))
		t.Cleanup(dropper.Close)
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		real, err := kvv1connect.NewKVServiceClient(testcred.HTTPClient, first.Endpoint).GetTopology(ctx, &kvv1.GetTopologyRequest{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		stale := proto.Clone(real).(*kvv1.GetTopologyResponse)
		stale.Nodes = append(stale.Nodes, &kvv1.TopologyNode{Id: "dropper", ApiAddr: strings.TrimPrefix(dropper.URL, "http://")})
		for _, l := range stale.PreferenceLists {
			l.Nodes = append([]uint32{uint32(len(stale.Nodes) - 1)}, l.Nodes...)
		}
		if err := c.SetTopology(ns, stale); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, []byte("dropped"), []byte("v")); err == nil {
			t.Fatal("a put whose connection dropped after sending succeeded")
		}
		reached := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(taken)
		}
		if hc.method("Put") != 1 || len(reached()) != 1 {
			t.Fatalf("the put went to %d nodes (%v reached the dropping one), want 1", hc.method("Put"), reached())
		}
		// A client that has not met the dropping node yet.
		hc = newCountingClient()
		c = newClient(hc, concord.WithRouting())
		if err := c.SetTopology(ns, stale); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, []byte("dropped")); err != nil {
			t.Fatalf("a read after a dropped connection: %v", err)
		}
		if hc.method("Get") != 2 || len(reached()) != 2 {
			t.Fatalf("the get went to %d nodes (%v reached the dropping one), want 2", hc.method("Get"), reached())
		}
	})

	// Calls made while a fresh client fetches its first topology wait for
	// it: none goes by the endpoint, which may be another replica of the
	// key than the head of its list (a second coordinator of the key).
	t.Run("first topology", func(t *testing.T) {
		real, bits := topologyOf(t, first.Endpoint, ns)
		endpoint := strings.TrimPrefix(first.Endpoint, "http://")
		// A key the endpoint holds a replica of, second in its list.
		var key []byte
		for i := 0; key == nil && i < 10000; i++ {
			k := fmt.Appendf(nil, "first-%d", i)
			list := real.GetPreferenceLists()[concord.PartitionOf(real.GetPlacementName(), k, bits)].GetNodes()
			if real.GetNodes()[list[1]].GetApiAddr() == endpoint {
				key = k
			}
		}
		if key == nil {
			t.Fatal("no key with the endpoint second in its list")
		}
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if _, err := c.Put(ctx, key, fmt.Appendf(nil, "v%d", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := hc.calls(endpoint, "Put"); n != 0 || hc.method("Put") != 16 {
			t.Errorf("%d of %d puts went to the endpoint, the key's second replica; want all 16 to the head of its list", n, hc.method("Put"))
		}
	})

	// After a write that the head of the key's list could not take, the
	// client reads the key from the node that coordinated the write.
	t.Run("read your writes", func(t *testing.T) {
		hc := newCountingClient()
		c := newClient(hc, concord.WithRouting())
		real, bits := topologyOf(t, first.Endpoint, ns)
		key := []byte("ryw")
		list := real.GetPreferenceLists()[concord.PartitionOf(real.GetPlacementName(), key, bits)].GetNodes()
		head, second := real.GetNodes()[list[0]].GetApiAddr(), real.GetNodes()[list[1]].GetApiAddr()
		// The head's address is wrong in this topology: the write goes
		// to the second node, which coordinates it.
		stale := proto.Clone(real).(*kvv1.GetTopologyResponse)
		stale.Nodes[list[0]].ApiAddr = "127.0.0.1:" + strconv.Itoa(procs.FreePort(t))
		if err := c.SetTopology(ns, stale); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, key, []byte("mine")); err != nil {
			t.Fatal(err)
		}
		if hc.calls(second, "Put") != 1 {
			t.Fatalf("the put did not fail over to the second node %s", second)
		}
		// The read refreshes the topology (the head is reachable again)
		// but goes to the write's coordinator.
		obj, err := c.Get(ctx, key)
		if err != nil || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != "mine" {
			t.Fatalf("get: %+v %v", obj, err)
		}
		if hc.calls(second, "Get") != 1 || hc.calls(head, "Get") != 0 || hc.method("GetTopology") != 1 {
			t.Fatalf("reads: %d from the coordinator, %d from the head, %d topology fetches; want 1, 0, 1",
				hc.calls(second, "Get"), hc.calls(head, "Get"), hc.method("GetTopology"))
		}
		// A key this client did not write is read from its head.
		other := []byte("ryw-other")
		for i := 0; concord.PartitionOf(real.GetPlacementName(), other, bits) != concord.PartitionOf(real.GetPlacementName(), key, bits) && i < 10000; i++ {
			other = []byte("ryw-other-" + strconv.Itoa(i))
		}
		if _, err := c.Get(ctx, other); err != nil {
			t.Fatal(err)
		}
		if hc.calls(head, "Get") != 1 {
			t.Fatalf("a key of the same partition not written: %d reads from the head, want 1", hc.calls(head, "Get"))
		}
	})

	for _, tt := range []struct {
		name string
		opts []concord.Option
	}{{"counter routed", []concord.Option{concord.WithRouting()}}, {"counter not routed", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			testCounter(t, newClient(newCountingClient(), tt.opts...), []byte(tt.name))
		})
	}
}

// testCounter runs 8 goroutines of 25 Update increments each on one key
// and checks that none is lost. The counter keeps a count per writer and
// merges siblings by the maximum of each (a grow-only counter), so it is
// right even when writes race; Update's write with the read's context and
// IfContextCurrent, retried on a conflict, is what keeps siblings from
// appearing at all, which the end checks too.
func testCounter(t *testing.T, c *concord.Client, key []byte) {
	const writers, increments = 8, 25
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts int
		errs     []error
	)
	for w := range writers {
		me := "w" + strconv.Itoa(w)
		wg.Go(func() {
			for range increments {
				_, err := c.Update(t.Context(), key, func(siblings [][]byte) ([]byte, error) {
					mu.Lock()
					attempts++
					mu.Unlock()
					counts, err := mergeCounts(siblings)
					if err != nil {
						return nil, err
					}
					counts[me]++
					return encodeCounts(counts), nil
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Update: %v", err)
	}
	obj, err := c.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Siblings) != 1 {
		t.Fatalf("the counter has %d siblings, want 1", len(obj.Siblings))
	}
	counts, err := mergeCounts(obj.Values())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for w, n := range counts {
		if n != increments {
			t.Errorf("writer %s: %d increments, want %d", w, n, increments)
		}
		total += n
	}
	if total != writers*increments {
		t.Fatalf("counter %d, want %d (%v)", total, writers*increments, counts)
	}
	t.Logf("%d increments in %d merge calls (%d retried after a conflict)", total, attempts, attempts-total)
}

// mergeCounts merges per-writer counts ("w0=3,w1=5") by their maximum.
func mergeCounts(siblings [][]byte) (map[string]int, error) {
	counts := map[string]int{}
	for _, s := range siblings {
		for part := range strings.SplitSeq(string(s), ",") {
			w, n, ok := strings.Cut(part, "=")
			v, err := strconv.Atoi(n)
			if !ok || err != nil {
				return nil, fmt.Errorf("bad counter %q", s)
			}
			counts[w] = max(counts[w], v)
		}
	}
	return counts, nil
}

func encodeCounts(counts map[string]int) []byte {
	var parts []string
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, w+"="+strconv.Itoa(counts[w]))
	}
	return []byte(strings.Join(parts, ","))
}

// topologyOf asks the node at endpoint for namespace ns's topology, and
// returns it with the bits of its partition count.
func topologyOf(t *testing.T, endpoint, ns string) (*kvv1.GetTopologyResponse, int) {
	t.Helper()
	real, err := kvv1connect.NewKVServiceClient(testcred.HTTPClient, endpoint).GetTopology(t.Context(), &kvv1.GetTopologyRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	bits := 0
	for 1<<bits < int(real.GetPartitions()) {
		bits++
	}
	return real, bits
}
