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
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte("minority"), W: 1}); err != nil {
			t.Fatalf("minority side put %s: %v", key, err)
		}
		only := fmt.Sprintf("minority-only-%02d", i)
		if _, err := c.Nodes[2].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(only), Value: []byte(only), W: 1}); err != nil {
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
	var inNamespace uint64 // no client read ran: only anti-entropy repaired
	for _, n := range c.Nodes {
		st, err := n.Node().NamespaceStats(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		inNamespace += st.KeysRepaired
	}
	if inNamespace == 0 {
		t.Error("anti-entropy's repairs are not counted in the namespace's numbers")
	}
	t.Logf("anti-entropy converged %d keys on 3 replicas in %v (%d keys repaired)", 2*keys, took, repaired)
}

// TestMinorityReadsWhatItWrote: five nodes, N=3, R=W=2, split 2|3. On the
// minority side a key with one replica there is written through sloppy
// quorum (its replica and the other minority node, a fallback keeping
// hints, acknowledge), and a Get of it on that side — through either node —
// is answered by the same two: the fallback counts the hints it keeps. After
// healing, the hints reach the owners, and the fallback keeps no copy of
// its own (read repair never treats it as a replica).
func TestMinorityReadsWhatItWrote(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 5})
	ctx := t.Context()
	minority := []*clustertest.Node{c.Nodes[0], c.Nodes[1]}
	// Keys with exactly one replica on the minority side, and which node
	// of it is the fallback.
	fallbackOf := map[string]*clustertest.Node{}
	for i := 0; len(fallbackOf) < 24; i++ {
		key := fmt.Sprintf("k%03d", i)
		nd := c.Nodes[0].Node()
		pref, _ := nd.Replicas(nd.PartitionOf("default", []byte(key)), 3)
		in0, in1 := slices.Contains(pref, minority[0].ID()), slices.Contains(pref, minority[1].ID())
		switch {
		case in0 && !in1:
			fallbackOf[key] = minority[1]
		case in1 && !in0:
			fallbackOf[key] = minority[0]
		}
	}
	c.Partition([]int{0, 1}, []int{2, 3, 4})

	i := 0
	for key := range fallbackOf {
		through := minority[i%2]
		i++
		if _, err := through.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte(key)}); err != nil {
			t.Fatalf("put %s on the minority side (W=2: a replica and a fallback): %v", key, err)
		}
	}
	for key, fb := range fallbackOf {
		// What the fallback answers a peer's read with: its hint counts.
		if o, err := fb.Node().ReadLocal(ctx, "default", []byte(key)); err != nil || !slices.Equal(values(o), []string{key}) {
			t.Fatalf("the fallback %d answers a read of %s with %v (%v), want the hint it keeps", fb.Index, key, values(o), err)
		}
		for _, through := range minority {
			res, err := through.KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key)})
			if err != nil {
				t.Fatalf("get %s through node %d on the minority side that wrote it: %v", key, through.Index, err)
			}
			if got := res.GetSiblings(); len(got) != 1 || string(got[0].GetValue()) != key {
				t.Fatalf("get %s through node %d: %v, want the value written", key, through.Index, got)
			}
		}
	}

	c.Heal()
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if n.Node().Stats().HintBacklog != 0 {
				return false
			}
		}
		return true
	}, "hints delivered to the majority side")
	for key, fb := range fallbackOf {
		nd := c.Nodes[0].Node()
		pref, _ := nd.Replicas(nd.PartitionOf("default", []byte(key)), 3)
		for _, n := range c.Nodes {
			o, err := n.Node().ReadLocal(ctx, "default", []byte(key))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case slices.Contains(pref, n.ID()) && !slices.Equal(values(o), []string{key}):
				t.Fatalf("replica %d of %s holds %v after the hints drained", n.Index, key, values(o))
			case n == fb && !o.IsZero():
				t.Fatalf("the fallback %d keeps a copy of %s of its own: read repair treated it as a replica", n.Index, key)
			}
		}
	}
}
