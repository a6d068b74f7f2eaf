package clustertest_test

import (
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestDeleteDuringPartitionDoesNotResurrect: a key is deleted on the
// majority side of a 2|1 partition while the minority still holds the old
// value. The tombstone is not purged while a replica lacks it (however long
// the grace period has passed); after healing it spreads, every replica
// holds it, then it is purged everywhere, and the key never comes back.
func TestDeleteDuringPartitionDoesNotResurrect(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{HintInterval: time.Hour})
	ctx := t.Context()
	key := []byte("doomed")
	if _, err := c.Nodes[0].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("v"), W: 3}); err != nil {
		t.Fatal(err)
	}
	c.Partition([]int{0, 1}, []int{2})
	got, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[0].KV().Delete(ctx, &kvv1.DeleteRequest{Namespace: "default", Key: key, Context: got.GetContext()}); err != nil {
		t.Fatalf("delete on the majority side: %v", err)
	}
	if o, _ := c.Nodes[2].Node().ReadLocal(ctx, "default", key); !o.HasLive() {
		t.Fatal("the minority node lost the value during the partition")
	}

	// Well past the grace period, the majority still keeps its tombstones:
	// the minority replica has not confirmed it.
	deleted := time.Now()
	rounds := c.Nodes[0].Node().Stats().PurgeRounds
	c.Eventually(func() bool {
		return time.Since(deleted) > 5*300*time.Millisecond && c.Nodes[0].Node().Stats().PurgeRounds > rounds+20
	}, "five grace periods and twenty purge rounds")
	for _, i := range []int{0, 1} {
		if o, _ := c.Nodes[i].Node().ReadLocal(ctx, "default", key); o.IsZero() {
			t.Fatalf("node %d purged the tombstone while a replica lacked it", i)
		}
	}

	c.Heal()
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if o, _ := n.Node().ReadLocal(ctx, "default", key); !o.IsZero() {
				return false
			}
		}
		return true
	}, "tombstone spread and purged on every replica")
	// Anti-entropy keeps running: the value must stay gone.
	// Each pair of replicas is exchanged by the one with the smaller ID:
	// count the whole cluster's exchanges.
	exchanges := func() (total int64) {
		for _, n := range c.Nodes {
			total += n.Node().Stats().AAEExchanges
		}
		return total
	}
	before := exchanges()
	c.Eventually(func() bool { return exchanges() > before+200 }, "200 more anti-entropy exchanges")
	for _, n := range c.Nodes {
		res, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: key, R: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetFound() {
			t.Fatalf("deleted key resurrected on node %d: %v", n.Index, res.GetSiblings())
		}
	}
	var purged int64
	for _, n := range c.Nodes {
		purged += n.Node().Stats().TombstonesPurged
	}
	if purged != 3 {
		t.Errorf("tombstones purged = %d, want one per replica (3)", purged)
	}
}
