package clustertest_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestWritesReachEveryReplica writes through every node and reads back from
// every node with R=3: writes are coordinated by (or forwarded to) a
// preference-list node and replicated to all N=3.
func TestWritesReachEveryReplica(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	for i := range 30 {
		key := fmt.Sprintf("k%02d", i)
		n := c.Nodes[i%3]
		if _, err := n.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte("v-" + key), W: 3}); err != nil {
			t.Fatalf("put %s via node %d: %v", key, n.Index, err)
		}
	}
	for i := range 30 {
		key := fmt.Sprintf("k%02d", i)
		for _, n := range c.Nodes {
			res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key), R: 3})
			if err != nil {
				t.Fatalf("get %s via node %d: %v", key, n.Index, err)
			}
			if len(res.GetSiblings()) != 1 || string(res.GetSiblings()[0].GetValue()) != "v-"+key || res.GetReplies() != 3 {
				t.Fatalf("get %s via node %d: %v (replies %d)", key, n.Index, res.GetSiblings(), res.GetReplies())
			}
		}
	}
}
