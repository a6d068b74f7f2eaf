package clustertest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// localObjects reads a key's object straight from every node's store: no
// client read, so no read repair can help convergence.
func localObjects(t *testing.T, c *clustertest.Cluster, key string) []dvv.Object {
	t.Helper()
	return localObjectsIn(t, c, "default", key)
}

func converged(objs []dvv.Object) bool {
	for _, o := range objs[1:] {
		if !o.Equal(objs[0]) {
			return false
		}
	}
	return true
}

func values(o dvv.Object) []string {
	var vs []string
	for _, s := range o.Siblings() {
		if !s.Tombstone {
			vs = append(vs, string(s.Value))
		}
	}
	slices.Sort(vs)
	return vs
}

// TestPartitionBothSidesWriteThenAntiEntropyConverges: a 2|1 partition; both
// sides keep accepting writes (the single node with w=1, the only quorum it
// can form alone), including to the same keys. After healing, with hint
// delivery off and no reads, anti-entropy alone brings every replica to the
// same object, and concurrent updates are kept as siblings.
func TestPartitionBothSidesWriteThenAntiEntropyConverges(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{HintInterval: time.Hour})
	ctx := t.Context()
	c.Partition([]int{0, 1}, []int{2})

	const keys = 40
	for i := range keys {
		key := fmt.Sprintf("shared-%02d", i)
		if _, err := c.Nodes[0].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte("majority")}); err != nil {
			t.Fatalf("majority side put %s: %v", key, err)
		}
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte("minority"), W: u32(1)}); err != nil {
			t.Fatalf("minority side put %s: %v", key, err)
		}
		only := fmt.Sprintf("minority-only-%02d", i)
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(only), Value: []byte(only), W: u32(1)}); err != nil {
			t.Fatalf("minority side put %s: %v", only, err)
		}
	}
	if converged(localObjects(t, c, "shared-00")) {
		t.Fatal("replicas agree during the partition: the partition did not hold")
	}
	healed := time.Now()
	c.Heal()
	c.Eventually(func() bool {
		for i := range keys {
			if !converged(localObjects(t, c, fmt.Sprintf("shared-%02d", i))) || !converged(localObjects(t, c, fmt.Sprintf("minority-only-%02d", i))) {
				return false
			}
		}
		return true
	}, "anti-entropy converges every replica")
	took := time.Since(healed)
	for i := range keys {
		objs := localObjects(t, c, fmt.Sprintf("shared-%02d", i))
		if got := values(objs[0]); !slices.Equal(got, []string{"majority", "minority"}) {
			t.Fatalf("shared-%02d after healing: %v, want both concurrent values as siblings", i, got)
		}
	}
	var repaired int64
	for _, n := range c.Nodes {
		repaired += n.Node().Stats().AAEKeysRepaired
	}
	if repaired == 0 {
		t.Fatal("replicas converged but anti-entropy repaired nothing")
	}
	t.Logf("anti-entropy converged %d keys on 3 replicas in %v (%d keys repaired)", 2*keys, took, repaired)
}
