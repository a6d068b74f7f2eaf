package node_test

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/resolvers"
)

// hostileModule builds resolvers/testdata/hostile.wat: a module whose
// behaviour (loop, trap, memory bomb, …) is picked by the first byte of the
// first sibling.
func hostileModule(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hostile.wasm")
	cmd := exec.Command("wat2wasm", "--enable-all", "-o", out, filepath.Join("..", "..", "resolvers", "testdata", "hostile.wat"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, b)
	}
	return readFile(t, out)
}

// TestHostileResolverLosesNothing: an on_write namespace whose resolver
// loops, traps, blows its memory or fails. Every write is still acknowledged,
// every sibling is kept, and the node keeps serving.
func TestHostileResolverLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateNamespace(meta.Namespace{Name: "hostile"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetResolverUnchecked(ctx, "hostile", hostileModule(t), meta.Resolver{Name: "hostile", Mode: meta.ModeOnWrite, WriteDeadline: 20 * time.Millisecond, MemoryPages: 16}); err != nil {
		t.Fatal(err)
	}
	// The loop comes second: its timeout opens the breaker (the first
	// deadline timeout does, before five failures in a row would), and the
	// writes and reads after it keep their siblings without a call.
	for _, behaviour := range []string{"T", "L", "G", "E", "B", "S", "X"} {
		key := []byte("key-" + behaviour)
		// The first write is alone (nothing to resolve); the second meets it
		// and the resolver misbehaves on the first sibling.
		for _, v := range []string{behaviour + "-first", "second"} {
			start := time.Now()
			if _, err := n.Put(ctx, node.PutRequest{Namespace: "hostile", Key: key, Value: []byte(v)}); err != nil {
				t.Fatalf("%s: put %s: %v", behaviour, v, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: a put took %v with a misbehaving resolver", behaviour, d)
			}
		}
		res, err := n.Get(ctx, node.GetRequest{Namespace: "hostile", Key: key})
		if err != nil {
			t.Fatalf("%s: get: %v", behaviour, err)
		}
		if got := res.Object.Len(); got != 2 {
			t.Errorf("%s: %d siblings after the resolver failed, want both kept", behaviour, got)
		}
	}
	// The default namespace, with no resolver, is unaffected.
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("the node stopped serving: %v", err)
	}
	for _, st := range n.ResolverStats() {
		var failures uint64
		for _, f := range st.Stats.Failures {
			failures += f
		}
		if failures+st.Stats.BreakerRejections == 0 {
			t.Errorf("no failure counted: %+v", st.Stats)
		}
		// T's write and read failed, then L's write timed out and opened
		// the breaker, which turned every call after it away (those its
		// CPU budget did not skip first: budget skips are not calls).
		called := failures - st.Stats.Failures[resolvers.KindBudget]
		if called != 3 || st.Stats.Failures[resolvers.KindTimeout] != 1 || st.Stats.Breaker != resolvers.BreakerOpen {
			t.Errorf("%d failed calls (%d timeouts), breaker %s; want 3 (1), open: the loop's timeout opens it: %+v",
				called, st.Stats.Failures[resolvers.KindTimeout], st.Stats.Breaker, st.Stats)
		}
	}
}
