package clustertest_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestRecreatedNamespaceStartsEmpty: a namespace is deleted and created
// again at once on one node while another is cut off, so that the cut-off
// node receives only the newer metadata (a queued broadcast is replaced by
// the newer one; push/pull carries only the newest document). The old
// incarnation's data must not come back through that node: not on reads
// with r=N through any node, not in listings, not through anti-entropy, and
// a write into the new namespace is not merged with an old value.
func TestRecreatedNamespaceStartsEmpty(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	create := func() {
		t.Helper()
		if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	create()
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if _, err := n.Node().Namespace("x"); err != nil {
				return false
			}
		}
		return true
	}, "namespace x on every node")
	first, _ := c.Nodes[0].Node().Namespace("x")
	const keys = 40
	for i := range keys {
		key := fmt.Sprintf("k%02d", i)
		if _, err := c.Nodes[i%3].KV().Put(ctx, &kvv1.PutRequest{Namespace: "x", Key: []byte(key), Value: []byte("old"), W: 3}); err != nil {
			t.Fatal(err)
		}
	}

	c.Partition([]int{0, 1}, []int{2})
	if _, err := admin.DeleteNamespace(ctx, &adminv1.DeleteNamespaceRequest{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	create()
	second, err := c.Nodes[0].Node().Namespace("x")
	if err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		ns, err := c.Nodes[1].Node().Namespace("x")
		return err == nil && ns.Version == second.Version
	}, "the new namespace on node 1")
	if ns, _ := c.Nodes[2].Node().Namespace("x"); ns.Version != first.Version {
		t.Fatalf("the cut-off node saw namespace version %d during the partition", ns.Version)
	}
	c.Heal()
	c.Eventually(func() bool {
		ns, err := c.Nodes[2].Node().Namespace("x")
		return err == nil && ns.Version == second.Version
	}, "the new namespace on the cut-off node")

	checkEmpty := func(when string) {
		t.Helper()
		for _, n := range c.Nodes {
			for i := range keys {
				key := fmt.Sprintf("k%02d", i)
				res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "x", Key: []byte(key), R: 3})
				if err != nil {
					t.Fatalf("%s: get %s through node %d: %v", when, key, n.Index, err)
				}
				if res.GetFound() {
					t.Fatalf("%s: %s of the deleted namespace is back through node %d: %v", when, key, n.Index, res.GetSiblings())
				}
			}
			if got := listKeys(t, n, "x"); len(got) != 0 {
				t.Fatalf("%s: listing x through node %d: %d old keys (%v)", when, n.Index, len(got), got[:min(5, len(got))])
			}
		}
	}
	checkEmpty("after heal")

	exchanges := func() (total int64) {
		for _, n := range c.Nodes {
			total += n.Node().Stats().AAEExchanges
		}
		return total
	}
	before := exchanges()
	c.Eventually(func() bool { return exchanges() > before+300 }, "300 more anti-entropy exchanges")
	checkEmpty("after anti-entropy")
	// Nor is it kept: every node dropped the old incarnation's data.
	for _, n := range c.Nodes {
		for i := range keys {
			o, err := n.Node().ReadLocal(ctx, first.StorageName(), []byte(fmt.Sprintf("k%02d", i)))
			if err != nil || !o.IsZero() {
				t.Fatalf("node %d still stores k%02d of the deleted namespace: %v, %v", n.Index, i, o.Siblings(), err)
			}
		}
	}

	// The new namespace works, and a key of the old one starts afresh.
	if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "x", Key: []byte("k00"), Value: []byte("new"), W: 3}); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "x", Key: []byte("k00"), R: 3})
		if err != nil {
			t.Fatal(err)
		}
		if sibs := res.GetSiblings(); len(sibs) != 1 || string(sibs[0].GetValue()) != "new" {
			t.Fatalf("k00 through node %d: %v, want only the new value", n.Index, sibs)
		}
	}
	if got := listKeys(t, c.Nodes[1], "x"); len(got) != 1 || got[0] != "k00" {
		t.Fatalf("listing the new namespace: %v, want [k00]", got)
	}
}

func listKeys(t *testing.T, n *clustertest.Node, ns string) []string {
	t.Helper()
	stream, err := n.KV().ListKeys(t.Context(), &kvv1.ListKeysRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for stream.Receive() {
		for _, k := range stream.Msg().GetKeys() {
			keys = append(keys, string(k))
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("list %s through node %d: %v", ns, n.Index, err)
	}
	return keys
}
