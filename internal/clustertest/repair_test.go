package clustertest_test

import (
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestReadRepairFixesAStaleReplica: with hints and anti-entropy off, a
// replica that missed a write is repaired by the first read that sees it
// stale — and a write that cannot reach W replicas is answered UNAVAILABLE
// with the acknowledgement counts.
func TestReadRepairFixesAStaleReplica(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{HintInterval: time.Hour, AAEInterval: time.Hour})
	ctx := t.Context()
	key := []byte("stale")
	c.Partition([]int{0, 1}, []int{2})
	if _, err := c.Nodes[0].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("fresh")}); err != nil {
		t.Fatal(err)
	}
	// The lone node cannot reach W=2.
	_, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte("lonely"), Value: []byte("v")})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable {
		t.Fatalf("a write on the minority side: %v, want UNAVAILABLE", err)
	}
	var qf *kvv1.QuorumFailure
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if q, ok := m.(*kvv1.QuorumFailure); ok {
				qf = q
			}
		}
	}
	if qf == nil || qf.GetAcks() != 1 || qf.GetRequired() != 2 {
		t.Fatalf("quorum failure detail = %v, want acks 1 of required 2", qf)
	}
	c.Heal()
	if o, _ := c.Nodes[2].Node().ReadLocal(ctx, "default", key); !o.IsZero() {
		t.Fatal("node 2 got the write although hints and anti-entropy are off")
	}
	res, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: key, R: 3})
	if err != nil || string(res.GetSiblings()[0].GetValue()) != "fresh" {
		t.Fatalf("read with R=3: %v %v", res.GetSiblings(), err)
	}
	c.Eventually(func() bool {
		o, _ := c.Nodes[2].Node().ReadLocal(ctx, "default", key)
		return o.HasLive()
	}, "read repair brings the stale replica up to date")
	if c.Nodes[0].Node().Stats().ReadRepairs == 0 {
		t.Error("the repair is not counted")
	}
	if st, err := c.Nodes[0].Node().NamespaceStats(ctx, "default"); err != nil || st.KeysRepaired == 0 {
		t.Errorf("the repair is not counted in the namespace's numbers: %d keys repaired, %v", st.KeysRepaired, err)
	}
}
