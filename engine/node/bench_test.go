package node_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
)

// BenchmarkPutConflicting measures what an on_write resolver adds to a put,
// on one node with an in-memory store. Baseline: each write carries the
// context of the previous one, so it replaces it (one sibling, nothing to
// merge). With the shopping-cart resolver: each write is blind, meets the
// stored cart as a sibling, and the two carts are merged inside the write.
// Both keep one small cart per key.
func BenchmarkPutConflicting(b *testing.B) {
	cart := func(item, tag string) []byte {
		return fmt.Appendf(nil, `{"items":{%q:{%q:1}},"removed":[]}`, item, tag)
	}
	for _, mode := range []string{"no resolver", "on_write shopping-cart"} {
		b.Run(mode, func(b *testing.B) {
			ctx := b.Context()
			n, err := node.Open(quiet(node.DefaultLocalConfig()))
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			ns := meta.Namespace{Name: "carts", Limits: meta.Limits{MaxSiblings: 10_000}}
			if _, err := n.CreateNamespace(ns); err != nil {
				b.Fatal(err)
			}
			if mode != "no resolver" {
				if _, _, err := n.ActivateResolver(ctx, node.ResolverUpload{Namespace: "carts", Builtin: "shopping-cart", Resolver: meta.Resolver{Mode: meta.ModeOnWrite}}); err != nil {
					b.Fatal(err)
				}
			}
			contexts := map[string][]byte{}
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("cart-%d", i%1000)
				req := node.PutRequest{Namespace: "carts", Key: []byte(key), Value: cart(fmt.Sprint("item", i%20), fmt.Sprint("t", i))}
				if mode == "no resolver" {
					req.Context = contexts[key]
				}
				res, err := n.Put(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if res.Object.Len() != 1 {
					b.Fatalf("%d siblings after the write", res.Object.Len())
				}
				contexts[key] = res.Context
				i++
			}
		})
	}
}
