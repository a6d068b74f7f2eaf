package clustertest_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/resolvers"
)

// TestBreakerOpensAcrossTheCluster: an on_write resolver that loops on
// real values (it passes the upload checks on a small sample) times out on
// the node that first runs it, whose breaker opens; the other nodes learn
// of it by gossip and open theirs for the same module, so that writes
// they coordinate afterwards keep their siblings without calling the
// module at all: one deadline in the cluster, not one per node.
func TestBreakerOpensAcrossTheCluster(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	admin := c.Nodes[0].Node()
	if _, err := admin.CreateNamespace(meta.Namespace{Name: "loopy"}); err != nil {
		t.Fatal(err)
	}
	wasm := hostileWasm(t)
	if _, _, err := admin.ActivateResolver(ctx, node.ResolverUpload{
		Namespace: "loopy", Module: wasm, Samples: [][]byte{[]byte("a")},
		Resolver: meta.Resolver{Name: "loopy", Mode: meta.ModeOnWrite, WriteDeadline: 20 * time.Millisecond, MemoryPages: 16},
	}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if ns, err := n.Node().Namespace("loopy"); err != nil || ns.Resolver == nil {
				return false
			}
		}
		return true
	}, "the namespace and its resolver on every node")

	large := func(i int) []byte { return append(fmt.Appendf(nil, "v%d-", i), bytes.Repeat([]byte("x"), 300)...) }
	// Two blind writes of one key through node 0: the second meets the
	// first, node 0 runs the resolver, which loops to its deadline.
	for i := range 2 {
		if _, err := c.Nodes[0].KV().Put(ctx, &kvv1.PutRequest{Namespace: "loopy", Key: []byte("k0"), Value: large(i)}); err != nil {
			t.Fatalf("put %d through node 0: %v", i, err)
		}
	}
	if st := loopyStats(c.Nodes[0]); st.Failures[resolvers.KindTimeout] != 1 || st.Breaker != resolvers.BreakerOpen {
		t.Fatalf("node 0 after the loop: %d timeouts, breaker %s; want 1, open: %+v", st.Failures[resolvers.KindTimeout], st.Breaker, st)
	}
	for i := 1; i < len(c.Nodes); i++ {
		if st := loopyStats(c.Nodes[i]); st.Calls != 0 {
			t.Fatalf("node %d called the resolver before writing through it: %+v", i, st)
		}
	}

	// Gossip tells nodes 1 and 2 of node 0's opening: their breakers of
	// the module open (shown in their stats before their pools are made).
	c.Eventually(func() bool {
		for i := 1; i < len(c.Nodes); i++ {
			if loopyStats(c.Nodes[i]).Breaker != resolvers.BreakerOpen {
				return false
			}
		}
		return true
	}, "nodes 1 and 2's breakers opened by node 0's")
	// Writes they coordinate meet siblings too, and keep them without a
	// call.
	for i := 1; i < len(c.Nodes); i++ {
		n := c.Nodes[i]
		k := fmt.Appendf(nil, "k%d", i)
		for v := range 2 {
			if _, err := n.KV().Put(ctx, &kvv1.PutRequest{Namespace: "loopy", Key: k, Value: large(v)}); err != nil {
				t.Fatalf("put %d through node %d: %v", v, i, err)
			}
		}
		if st := loopyStats(n); st.Calls != 0 || st.BreakerRejections == 0 {
			t.Errorf("node %d: %d calls (%d timeouts), %d turned away by its breaker; want none, some: %+v", i, st.Calls, st.Failures[resolvers.KindTimeout], st.BreakerRejections, st)
		}
		res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "loopy", Key: k})
		if err != nil || len(res.GetSiblings()) != 2 {
			t.Errorf("node %d: %d siblings (%v), want both kept", i, len(res.GetSiblings()), err)
		}
	}
}

// loopyStats is the loopy namespace's resolver counters on node n (zero
// before its pool is made).
func loopyStats(n *clustertest.Node) resolvers.Stats {
	for _, st := range n.Node().ResolverStats() {
		if st.Namespace == "loopy" {
			return st.Stats
		}
	}
	return resolvers.Stats{}
}
