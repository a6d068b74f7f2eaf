package registry_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/registry"
	"github.com/concord-kv/concord/engine/storage/memory"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
)

// members is a fake: this node "a" and a live peer "b".
type members struct{}

func (members) Self() string { return "a" }
func (members) Members() []membership.Member {
	return []membership.Member{{ID: "a"}, {ID: "b"}}
}
func (members) Alive(string) bool { return true }

// peers is a fake: "b" holds one module, answers after a delay (or never,
// until the caller's context ends), and counts the fetches.
type peers struct {
	wasm    []byte
	delay   time.Duration
	hang    bool
	fetches atomic.Int64
}

func (p *peers) FetchModule(ctx context.Context, _, hash string) ([]byte, error) {
	p.fetches.Add(1)
	if p.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	time.Sleep(p.delay)
	if registry.ModuleHash(p.wasm) != hash {
		return nil, nil
	}
	return p.wasm, nil
}

// uploaded is a module no node has built in: set-union with a custom
// section appended, so it has a hash of its own and must be fetched.
func uploaded(t *testing.T) []byte {
	t.Helper()
	wasm, ok := builtin.Module("set-union")
	if !ok {
		t.Fatal("no set-union built-in")
	}
	return append(append([]byte(nil), wasm...), 0x00, 0x06, 0x04, 't', 'e', 's', 't', 0x01) // custom section "test"
}

func newRegistry(t *testing.T, ps registry.Peers, timeout time.Duration) *registry.Registry {
	t.Helper()
	rt, err := resolvers.NewRuntime(t.Context(), resolvers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := registry.New(registry.Config{
		Runtime: rt, Store: memory.New(), Peers: ps, Members: members{}, FetchTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func namespace(hash string) meta.Namespace {
	res := meta.Resolver{Name: "test", Mode: meta.ModeOnWrite, Hash: hash}.WithDefaults()
	return meta.Namespace{Name: "sets", N: 1, R: 1, W: 1, Limits: meta.DefaultLimits(), Resolver: &res}
}

func siblings() dvv.Object {
	a := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte(`["x"]`)})
	return a.Update("b.1", dvv.Clock{}, dvv.Sibling{Value: []byte(`["y"]`)})
}

// TestPrepareFetchesAndCompilesOnce: many callers preparing a module the
// node does not have at the same time share one fetch (and one
// compilation); the module is then kept, and resolutions use it.
//
// It runs in a synctest bubble: the fake peer's delay is fake time, and
// every caller has reached Prepare before the fetch returns.
func TestPrepareFetchesAndCompilesOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testPrepareFetchesAndCompilesOnce)
}

func testPrepareFetchesAndCompilesOnce(t *testing.T) {
	wasm := uploaded(t)
	ps := &peers{wasm: wasm, delay: 50 * time.Millisecond}
	r := newRegistry(t, ps, 0)
	ns := namespace(registry.ModuleHash(wasm))

	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { errs[i] = r.Prepare(t.Context(), ns) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if got := ps.fetches.Load(); got != 1 {
		t.Errorf("%d fetches for 16 concurrent callers, want 1", got)
	}
	if kept, err := r.Module(ns.Resolver.Hash); err != nil || string(kept) != string(wasm) {
		t.Errorf("the fetched module is not kept in the store (%v)", err)
	}
	if err := r.Prepare(t.Context(), ns); err != nil || ps.fetches.Load() != 1 {
		t.Errorf("a later Prepare fetched again (%v)", err)
	}
	merged, ok := r.Resolve(t.Context(), ns, []byte("k"), siblings(), time.Second)
	if !ok || string(merged.Value) != `["x","y"]` {
		t.Errorf("resolve: %q %v, want the union", merged.Value, ok)
	}
}

// TestFetchHasADeadline: a peer that never answers fails Prepare after
// the fetch timeout, not never; a caller that gives up earlier gets its
// own context's error.
func TestFetchHasADeadline(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, &peers{wasm: uploaded(t), hang: true}, 100*time.Millisecond)
	ns := namespace(registry.ModuleHash(uploaded(t)))
	start := time.Now()
	if err := r.Prepare(context.Background(), ns); err == nil {
		t.Fatal("Prepare of a module no node answers for succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Prepare took %v; the fetch timeout is 100ms", took)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Prepare(ctx, ns); err != context.Canceled {
		t.Fatalf("Prepare with a cancelled context: %v", err)
	}
}

// TestResolveNeverFetches: Resolve, which runs under a replica lock, uses
// only a module already compiled: before Prepare it keeps the siblings and
// asks no one.
func TestResolveNeverFetches(t *testing.T) {
	t.Parallel()
	ps := &peers{wasm: uploaded(t)}
	r := newRegistry(t, ps, 0)
	ns := namespace(registry.ModuleHash(ps.wasm))
	if _, ok := r.Resolve(t.Context(), ns, []byte("k"), siblings(), time.Second); ok {
		t.Fatal("resolved with a module that was never prepared")
	}
	if ps.fetches.Load() != 0 {
		t.Fatal("Resolve fetched the module")
	}
}
