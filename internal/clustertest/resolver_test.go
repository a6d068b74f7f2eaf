package clustertest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// cart is the shopping-cart built-in's value format: per item, its add
// tags with the quantity each set, and the removed tags.
type cart struct {
	Items   map[string]map[string]int `json:"items"`
	Removed []string                  `json:"removed"`
}

func cartValue(t *testing.T, items map[string]map[string]int) []byte {
	t.Helper()
	b, err := json.Marshal(cart{Items: items, Removed: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cartItems(t *testing.T, v []byte) []string {
	t.Helper()
	var c cart
	if err := json.Unmarshal(v, &c); err != nil {
		t.Fatalf("not a cart: %s (%v)", v, err)
	}
	var out []string
	for sku := range c.Items {
		out = append(out, sku)
	}
	slices.Sort(out)
	return out
}

// TestCartResolverModes: the same concurrent, conflicting cart writes (two
// sides of a partition add different items to one cart) in three namespaces
// with the shopping-cart resolver in each mode. on_write: after healing
// every replica holds one merged cart, with no read. on_read: a read
// answers the merged cart and writes it back, and then every replica holds
// it. client: the siblings go to the client.
func TestCartResolverModes(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{HintInterval: time.Hour})
	ctx := t.Context()
	admin := c.Nodes[0].Node()
	for _, m := range []struct {
		ns   string
		mode meta.ResolverMode
	}{{"carts-w", meta.ModeOnWrite}, {"carts-r", meta.ModeOnRead}, {"carts-c", meta.ModeClient}} {
		if _, err := admin.CreateNamespace(meta.Namespace{Name: m.ns}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := admin.ActivateResolver(ctx, node.ResolverUpload{Namespace: m.ns, Builtin: "shopping-cart", Resolver: meta.Resolver{Mode: m.mode}}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			for _, name := range []string{"carts-w", "carts-r", "carts-c"} {
				if ns, err := n.Node().Namespace(name); err != nil || ns.Resolver == nil {
					return false
				}
			}
		}
		return true
	}, "namespaces and resolvers on every node")
	t.Logf("metadata spread in %v", time.Since(start))

	c.Partition([]int{0, 1}, []int{2})
	for _, ns := range []string{"carts-w", "carts-r", "carts-c"} {
		key := []byte("cart-42")
		if _, err := c.Nodes[0].KV().Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: key, Value: cartValue(t, map[string]map[string]int{"apple": {"a1": 2}})}); err != nil {
			t.Fatalf("%s: majority add: %v", ns, err)
		}
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: key, Value: cartValue(t, map[string]map[string]int{"pear": {"b1": 1}}), W: 1}); err != nil {
			t.Fatalf("%s: minority add: %v", ns, err)
		}
	}
	c.Heal()

	// on_write: anti-entropy meets the versions on the servers, which merge
	// them; every replica ends with one cart holding both items.
	c.Eventually(func() bool {
		objs := localObjectsIn(t, c, "carts-w", "cart-42")
		if !converged(objs) || objs[0].Distinct() != 1 {
			return false
		}
		return slices.Equal(cartItems(t, objs[0].Siblings()[0].Value), []string{"apple", "pear"})
	}, "on_write: one merged cart on every replica")

	// client: after convergence the client sees both siblings.
	c.Eventually(func() bool { return converged(localObjectsIn(t, c, "carts-c", "cart-42")) }, "client namespace converged")
	res, err := c.Nodes[1].KV().Get(ctx, &kvv1.GetRequest{Namespace: "carts-c", Key: []byte("cart-42")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetSiblings()) != 2 || res.GetResolvedBy() != "" {
		t.Fatalf("client mode: %d siblings, resolved by %q; want the 2 siblings unresolved", len(res.GetSiblings()), res.GetResolvedBy())
	}

	// on_read: the replicas keep both versions until a read; the read
	// answers the merge and writes it back.
	c.Eventually(func() bool { return converged(localObjectsIn(t, c, "carts-r", "cart-42")) }, "on_read namespace converged")
	if objs := localObjectsIn(t, c, "carts-r", "cart-42"); objs[0].Distinct() != 2 {
		t.Fatalf("on_read resolved before any read: %d values", objs[0].Distinct())
	}
	res, err = c.Nodes[1].KV().Get(ctx, &kvv1.GetRequest{Namespace: "carts-r", Key: []byte("cart-42")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetSiblings()) != 1 || res.GetResolvedBy() != "shopping-cart" {
		t.Fatalf("on_read: %d siblings, resolved by %q", len(res.GetSiblings()), res.GetResolvedBy())
	}
	if got := cartItems(t, res.GetSiblings()[0].GetValue()); !slices.Equal(got, []string{"apple", "pear"}) {
		t.Fatalf("on_read merged cart = %v", got)
	}
	c.Eventually(func() bool {
		objs := localObjectsIn(t, c, "carts-r", "cart-42")
		return converged(objs) && objs[0].Len() == 1
	}, "on_read: the write-back reached every replica")
}

func localObjectsIn(t *testing.T, c *clustertest.Cluster, ns, key string) []dvv.Object {
	t.Helper()
	var out []dvv.Object
	for _, n := range c.Nodes {
		cur, err := n.Node().Namespace(ns)
		if err != nil {
			t.Fatal(err)
		}
		// Replicas hold the objects under the incarnation's storage name.
		o, err := n.Node().ReadLocal(t.Context(), cur.StorageName(), []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// TestNodesFetchUploadedModules: a module uploaded through one node (not a
// built-in, so no other node has it) reaches the others by hash over peer
// RPC the first time they need it.
func TestNodesFetchUploadedModules(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "merges.wasm")
	if b, err := exec.Command("wat2wasm", "-o", out, filepath.Join("..", "..", "resolvers", "laws", "testdata", "merges.wat")).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	admin := c.Nodes[0].Node()
	if _, err := admin.CreateNamespace(meta.Namespace{Name: "maxed"}); err != nil {
		t.Fatal(err)
	}
	ns, _, err := admin.ActivateResolver(ctx, node.ResolverUpload{
		Namespace: "maxed", Module: wasm, Samples: [][]byte{[]byte("1"), []byte("5"), []byte("9")},
		Resolver: meta.Resolver{Name: "max", Mode: meta.ModeOnWrite, Config: []byte("M")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if held, _ := c.Nodes[2].Node().FetchModule(ctx, ns.Resolver.Hash); held != nil {
		t.Fatal("node 3 holds the module before needing it")
	}
	c.Eventually(func() bool {
		got, err := c.Nodes[2].Node().Namespace("maxed")
		return err == nil && got.Resolver != nil
	}, "resolver settings on node 3")
	for _, v := range []string{"fig", "pear", "apple"} { // concurrent: no contexts
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "maxed", Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Nodes[2].KV().Get(ctx, &kvv1.GetRequest{Namespace: "maxed", Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetSiblings()) != 1 || string(res.GetSiblings()[0].GetValue()) != "pear" {
		t.Fatalf("merged on node 3: %v", res.GetSiblings())
	}
	if held, _ := c.Nodes[2].Node().FetchModule(ctx, ns.Resolver.Hash); !bytes.Equal(held, wasm) {
		t.Fatal("node 3 resolved without holding the module it fetched")
	}
}
