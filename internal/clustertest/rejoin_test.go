package clustertest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/wait"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestRejoinedNodeLosesNoBlindWrite is the regression test of the lost
// blind writes after a rejoin (issue 8, defect 1). Node X coordinates two
// blind writes of each key, leaves (its partitions are handed off and
// dropped), joins again, and at once — before the join's handoff brings its
// partitions back — coordinates a third blind write of each key. Before
// incarnations X reissued dots it had issued before it left, the other
// replicas' merges kept their old value under that dot, and the new value
// vanished everywhere although it was acknowledged.
func TestRejoinedNodeLosesNoBlindWrite(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 5, N: 3, R: 2, W: 2})
	ctx := t.Context()
	admin, x := c.Nodes[0].Node(), c.Nodes[4]
	const keys = 60
	key := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	put := func(k []byte, v string) error {
		_, err := x.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: k, Value: []byte(v)})
		return err
	}
	for i := range keys {
		for _, v := range []string{"old1", "old2"} {
			if err := put(key(i), v); err != nil {
				t.Fatalf("put %s: %v", key(i), err)
			}
		}
	}

	if _, err := admin.StageLeave(x.ID()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Commit(); err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		for i := range keys {
			if obj, err := x.Node().ReadLocal(ctx, "default", key(i)); err != nil || !obj.IsZero() {
				return false
			}
		}
		return true
	}, "X handed its partitions off and dropped them")
	// X drops its partitions once it sees every transfer done; the node
	// that commits must see that too, or it refuses the next commit.
	c.Eventually(func() bool { _, _, done := admin.Handoffs(); return done }, "leave handoff complete on the committing node")

	if _, err := admin.StageJoin(x.ID()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Commit(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	for i := range keys {
		if err := put(key(i), "new"); err == nil {
			acked[string(key(i))] = true
		}
	}
	if len(acked) < keys/2 {
		t.Fatalf("only %d of %d writes after the rejoin were acknowledged", len(acked), keys)
	}
	c.Eventually(func() bool { _, _, done := admin.Handoffs(); return done }, "join handoff complete")

	// Every replica converges, and keeps every acknowledged value.
	missing := func() []string {
		var out []string
		for k := range acked {
			for _, n := range c.Nodes {
				res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(k), R: 3})
				if err != nil {
					out = append(out, k+" (read: "+err.Error()+")")
					break
				}
				var vals []string
				for _, s := range res.GetSiblings() {
					vals = append(vals, string(s.GetValue()))
				}
				if !slices.Contains(vals, "new") || !slices.Contains(vals, "old1") || !slices.Contains(vals, "old2") {
					out = append(out, fmt.Sprintf("%s via node %d: %v", k, n.Index, vals))
					break
				}
			}
		}
		return out
	}
	var last []string
	if wait.Within(ctx, time.Minute, func() bool { last = missing(); return len(last) == 0 }) != nil {
		t.Fatalf("%d of %d acknowledged values lost, e.g. %v", len(last), len(acked), last[:min(5, len(last))])
	}
}
