package concord_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	concord "github.com/concord-kv/concord/sdk/go"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
)

// The SDK is tested against a real `concord serve` process.
func TestClientAgainstARealNode(t *testing.T) {
	t.Parallel()
	node := procs.Start(t, t.TempDir(), "--replicas", "1")
	for _, proto := range []struct {
		name string
		opts []concord.Option
	}{
		{"connect", nil}, {"json", []concord.Option{concord.WithJSON()}}, {"grpc", []concord.Option{concord.WithGRPC()}},
		{"routed-connect", []concord.Option{concord.WithRouting()}}, {"routed-grpc", []concord.Option{concord.WithGRPC(), concord.WithRouting()}},
	} {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := concord.New(node.Endpoint, append(proto.opts, concord.WithToken(testcred.AdminToken))...)
			key := []byte("cart-" + proto.name)

			obj, err := c.Get(ctx, key)
			if err != nil || obj.Found || len(obj.Context) == 0 {
				t.Fatalf("missing key: %+v %v", obj, err)
			}
			// Two blind writes are concurrent: two siblings.
			for _, v := range []string{"apple", "pear"} {
				if _, err := c.Put(ctx, key, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			obj, err = c.Get(ctx, key)
			if err != nil || len(obj.Siblings) != 2 {
				t.Fatalf("after two blind writes: %+v %v", obj, err)
			}
			// Update merges what it read and replaces exactly that.
			if _, err := c.Update(ctx, key, func(sibs [][]byte) ([]byte, error) {
				var items []string
				for _, s := range sibs {
					items = append(items, string(s))
				}
				slices.Sort(items)
				return []byte(strings.Join(items, ",")), nil
			}); err != nil {
				t.Fatal(err)
			}
			obj, err = c.Get(ctx, key)
			if err != nil || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != "apple,pear" {
				t.Fatalf("after Update: %+v %v", obj, err)
			}
			// A write that races Update's makes its write conflict: Update
			// merges the state the conflict carries and writes again.
			raced := []byte("raced-" + proto.name)
			if _, err := c.Put(ctx, raced, []byte("a")); err != nil {
				t.Fatal(err)
			}
			var seen [][]string
			if _, err := c.Update(ctx, raced, func(sibs [][]byte) ([]byte, error) {
				var vals []string
				for _, s := range sibs {
					vals = append(vals, string(s))
				}
				slices.Sort(vals)
				seen = append(seen, vals)
				if len(seen) == 1 {
					if _, err := c.Put(ctx, raced, []byte("x")); err != nil {
						return nil, err
					}
				}
				return []byte(strings.Join(vals, "+")), nil
			}); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, raced); err != nil || len(got.Siblings) != 1 || string(got.Siblings[0].Value) != "a+x" || len(seen) != 2 || len(seen[1]) != 2 {
				t.Fatalf("Update raced by a write: merges saw %q, then %+v %v", seen, got, err)
			}
			// A stale context with IfContextCurrent is a *ConflictError with the current state.
			stale := obj.Context
			if _, err := c.Put(ctx, key, []byte("x"), concord.After(stale)); err != nil {
				t.Fatal(err)
			}
			_, err = c.Put(ctx, key, []byte("y"), concord.After(stale), concord.IfContextCurrent())
			var conflict *concord.ConflictError
			if !errors.As(err, &conflict) || len(conflict.Current.Siblings) != 1 || string(conflict.Current.Siblings[0].Value) != "x" {
				t.Fatalf("stale IfContextCurrent: %v", err)
			}
			// A blind Put adds a sibling; one with Overwrite replaces them.
			if _, err := c.Put(ctx, key, []byte("blind")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Put(ctx, key, []byte("over"), concord.Overwrite()); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, key); err != nil || len(got.Siblings) != 1 || string(got.Siblings[0].Value) != "over" {
				t.Fatalf("after Overwrite: %+v %v", got, err)
			}
			if _, err := c.Put(ctx, key, []byte("z"), concord.IfAbsent()); !errors.Is(err, concord.ErrAlreadyExists) {
				t.Fatalf("IfAbsent on a live key: %v", err)
			}
			var limit *concord.LimitError
			if _, err := c.Put(ctx, key, make([]byte, 1<<20+1)); !errors.As(err, &limit) || limit.Limit != "max_value_bytes" {
				t.Fatalf("oversized value: %v", err)
			}
			if _, err := c.Get(ctx, key, concord.InNamespace("nope")); !errors.Is(err, concord.ErrNamespaceNotFound) {
				t.Fatalf("unknown namespace: %v", err)
			}
			if _, err := c.Delete(ctx, key, concord.Force()); err != nil {
				t.Fatal(err)
			}
			if obj, _ := c.Get(ctx, key); obj.Found {
				t.Fatalf("after delete: %+v", obj)
			}
			var listed [][]byte
			if _, err := c.Put(ctx, append(key, '/', 'k'), []byte("v")); err != nil {
				t.Fatal(err)
			}
			for k, err := range c.Keys(ctx, key) {
				if err != nil {
					t.Fatal(err)
				}
				listed = append(listed, k)
			}
			if len(listed) != 1 || !bytes.Equal(listed[0], append(key, '/', 'k')) {
				t.Fatalf("keys with prefix %s: %q", key, listed)
			}
		})
	}
}
