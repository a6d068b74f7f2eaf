package node_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/wait"
	"github.com/concord-kv/concord/resolvers"
)

// TestQuotasOnOneNode: a namespace at its max_keys refuses new keys and
// takes overwrites and deletes; one at its max_stored_bytes refuses
// writes that grow and takes those that shrink; a delete makes room.
func TestQuotasOnOneNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, ns := range []meta.Namespace{
		{Name: "keys", Limits: meta.Limits{MaxKeys: 3}},
		{Name: "bytes", Limits: meta.Limits{MaxStoredBytes: 20}},
	} {
		if _, err := n.CreateNamespace(ns); err != nil {
			t.Fatal(err)
		}
	}
	put := func(ns, key, value string) (node.Result, error) {
		return n.Put(ctx, node.PutRequest{Namespace: ns, Key: []byte(key), Value: []byte(value)})
	}
	wantLimit := func(err error, limit string, quota, used uint64) {
		t.Helper()
		var lim *errs.LimitError
		if !errors.As(err, &lim) || lim.Limit != limit || lim.Max != quota || lim.Actual != used || !lim.Exhausted || lim.RetryAfter != 0 {
			t.Fatalf("err = %v, want %s exhausted at %d of %d", err, limit, used, quota)
		}
	}
	waitUsage := func(ns string, keys, bytes int64) {
		t.Helper()
		err := wait.Within(ctx, 30*time.Second, func() bool {
			k, b, err := n.NamespaceUsage(ns)
			return err == nil && k == keys && b == bytes
		})
		if err != nil {
			k, b, _ := n.NamespaceUsage(ns)
			t.Fatalf("usage of %s: %d keys, %d bytes, want %d, %d", ns, k, b, keys, bytes)
		}
	}

	var last node.Result
	for i := range 3 {
		if last, err = put("keys", fmt.Sprint("k", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	waitUsage("keys", 3, 3*(2+1))
	_, err = put("keys", "k3", "v")
	wantLimit(err, "max_keys", 3, 3)
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "keys", Key: []byte("k2"), Value: []byte("longer"), Context: last.Context}); err != nil {
		t.Fatalf("an overwrite at the quota: %v", err)
	}
	res, err := n.Get(ctx, node.GetRequest{Namespace: "keys", Key: []byte("k0")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "keys", Key: []byte("k0"), Tombstone: true, Context: res.Context}); err != nil {
		t.Fatalf("a delete at the quota: %v", err)
	}
	if _, err := put("keys", "k3", "v"); err != nil {
		t.Fatalf("a new key once a delete made room: %v", err)
	}
	// At the quota again, replication (like hints, read repair,
	// anti-entropy and handoff, which merge the same way) still stores a
	// new key: quotas are checked on client writes only.
	waitUsage("keys", 3, 2+1+2+6+2+1)
	ns, err := n.Namespace("keys")
	if err != nil {
		t.Fatal(err)
	}
	replicated := dvv.Object{}.Update("other-node.1", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	if _, err := n.Apply(ctx, []peer.Object{{Namespace: ns.StorageName(), Key: []byte("k4"), Object: replicated}}, false, ""); err != nil {
		t.Fatalf("replication at the quota: %v", err)
	}
	waitUsage("keys", 4, 2+1+2+6+2+1+2+1)

	first, err := put("bytes", "a", "0123456789") // 11 bytes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put("bytes", "b", "0123456789"); err != nil { // 22: over
		t.Fatal(err)
	}
	waitUsage("bytes", 2, 22)
	_, err = n.Put(ctx, node.PutRequest{Namespace: "bytes", Key: []byte("a"), Value: []byte("0123456789+"), Context: first.Context})
	wantLimit(err, "max_stored_bytes", 20, 22)
	_, err = put("bytes", "c", "")
	wantLimit(err, "max_stored_bytes", 20, 22)
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "bytes", Key: []byte("a"), Value: []byte("0"), Context: first.Context}); err != nil {
		t.Fatalf("a shrinking overwrite over the quota: %v", err)
	}
	if k, b, err := n.NamespaceUsage("default"); err != nil || k != 0 || b != 0 {
		t.Errorf("usage of the untouched default namespace: %d keys, %d bytes, %v", k, b, err)
	}
}

// TestResolverOverItsCPUBudget: a namespace whose resolver used up its
// CPU time on this node (one call ran to its deadline, far past one
// millisecond a second) gets no more resolutions for a while: its writes
// keep every sibling and its reads answer them unmerged, each skip counted
// as a "budget" failure. Another namespace with the same module resolves
// as usual.
func TestResolverOverItsCPUBudget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	wasm := hostileModule(t)
	for _, ns := range []meta.Namespace{
		{Name: "hot", Limits: meta.Limits{ResolverCPUMsPerSecond: 1}},
		{Name: "cool"},
	} {
		if _, err := n.CreateNamespace(ns); err != nil {
			t.Fatal(err)
		}
		// A call that loops runs until its deadline: 100ms, a debt of
		// 99 seconds at 1ms a second.
		if _, err := n.SetResolverUnchecked(ctx, ns.Name, wasm, meta.Resolver{Name: "hostile", Mode: meta.ModeOnWrite, WriteDeadline: 100 * time.Millisecond, MemoryPages: 16}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(ns, key, value string) {
		t.Helper()
		if _, err := n.Put(ctx, node.PutRequest{Namespace: ns, Key: []byte(key), Value: []byte(value)}); err != nil {
			t.Fatalf("%s: put %s: %v", ns, value, err)
		}
	}
	put("hot", "spin", "L-first")
	put("hot", "spin", "second") // the resolver loops until its deadline
	put("hot", "k", "a")
	put("hot", "k", "b") // over budget: not resolved
	res, err := n.Get(ctx, node.GetRequest{Namespace: "hot", Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Object.Len(); got != 2 || res.ResolvedBy != "" {
		t.Errorf("over budget: %d siblings, resolved by %q; want both siblings, unmerged", got, res.ResolvedBy)
	}
	put("cool", "k", "a")
	put("cool", "k", "b")
	res, err = n.Get(ctx, node.GetRequest{Namespace: "cool", Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Object.Len(); got != 1 {
		t.Errorf("a namespace within its budget: %d siblings, want them merged into one", got)
	}
	budget := map[string]uint64{}
	for _, st := range n.ResolverStats() {
		budget[st.Namespace] = st.Stats.Failures[resolvers.KindBudget]
	}
	if budget["hot"] < 2 || budget["cool"] != 0 {
		t.Errorf("budget failures %v, want at least 2 (a write, a read) for hot and none for cool", budget)
	}
}

// TestUpdateQuotaLimits: each quota and resolver limit is updated by its
// own field, leaving the others as they are; 0 lifts a quota.
func TestUpdateQuotaLimits(t *testing.T) {
	t.Parallel()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateNamespace(meta.Namespace{Name: "x", Limits: meta.Limits{MaxKeys: 10, MaxStoredBytes: 1000}}); err != nil {
		t.Fatal(err)
	}
	update := func(l meta.Limits, fields ...string) meta.Limits {
		t.Helper()
		ns, err := n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "x", Limits: l}, Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		return ns.Limits
	}
	got := update(meta.Limits{ResolverCPUMsPerSecond: 50, ResolverConcurrency: 8}, "limits.resolver_cpu_ms_per_second", "limits.resolver_concurrency")
	if got.MaxKeys != 10 || got.MaxStoredBytes != 1000 || got.ResolverCPUMsPerSecond != 50 || got.ResolverConcurrency != 8 {
		t.Fatalf("after updating the resolver limits: %+v", got)
	}
	got = update(meta.Limits{MaxStoredBytes: 5000}, "limits.max_keys", "limits.max_stored_bytes")
	if got.MaxKeys != 0 || got.MaxStoredBytes != 5000 || got.ResolverConcurrency != 8 {
		t.Fatalf("after lifting max_keys and raising max_stored_bytes: %+v", got)
	}
}
