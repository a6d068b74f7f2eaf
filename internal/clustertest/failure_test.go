package clustertest_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestKilledNodeCatchesUpThroughHints: N=3, W=2. One node is killed during a
// write load; writes keep being acknowledged by the other two, which keep
// hints for it. After it restarts and the hints drain, every acknowledged
// write is readable with R=3, and the restarted node itself holds every one.
func TestKilledNodeCatchesUpThroughHints(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	victim := c.Nodes[2]

	var (
		mu        sync.Mutex
		acked     = map[string]string{}
		wg        sync.WaitGroup
		killPoint = make(chan struct{}) // closed after 400 acknowledgements
	)
	for w := range 4 {
		wg.Go(func() {
			for i := range 250 {
				n := c.Nodes[(w+i)%2] // the two survivors take the client traffic
				key := fmt.Sprintf("w%d-%04d", w, i)
				if _, err := n.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte(key)}); err != nil {
					t.Errorf("put %s: %v (one node of three down must not fail W=2 writes)", key, err)
					continue
				}
				mu.Lock()
				acked[key] = key
				if len(acked) == 400 {
					close(killPoint)
				}
				mu.Unlock()
			}
		})
	}
	<-killPoint
	victim.Kill() // while the writers run
	wg.Wait()
	victim.Restart()

	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if n.Node().Stats().HintBacklog != 0 {
				return false
			}
		}
		return true
	}, "hints drained")
	delivered := c.Nodes[0].Node().Stats().HintsDelivered + c.Nodes[1].Node().Stats().HintsDelivered
	if delivered == 0 {
		t.Errorf("no hints delivered although the node missed writes")
	}
	for key, want := range acked {
		res, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key), R: 3})
		if err != nil {
			t.Fatalf("get %s with R=3: %v", key, err)
		}
		if len(res.GetSiblings()) != 1 || string(res.GetSiblings()[0].GetValue()) != want {
			t.Fatalf("get %s: %v", key, res.GetSiblings())
		}
		local, err := victim.Node().ReadLocal(ctx, "default", []byte(key))
		if err != nil || !local.HasLive() {
			t.Fatalf("restarted node lacks %s after hints drained (err %v)", key, err)
		}
	}
	t.Logf("%d acknowledged writes, %d hints delivered", len(acked), delivered)
}

// TestSloppyQuorumUsesFallbackNodes: five nodes, N=3, one node down. Writes
// with W=3 still succeed for keys it replicates: the next healthy node
// after the preference list takes the write as a hint and counts toward W.
// When the node returns the fallbacks deliver, and it holds every write it
// missed.
func TestSloppyQuorumUsesFallbackNodes(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 5})
	ctx := t.Context()
	down := c.Nodes[4]
	down.Kill() // calls to it fail at once, before gossip even notices
	var missed []string
	for i := range 200 {
		key := fmt.Sprintf("k%03d", i)
		if _, err := c.Nodes[i%4].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte(key), W: 3}); err != nil {
			t.Fatalf("put %s with W=3 and one node down: %v", key, err)
		}
		pref, _ := c.Nodes[0].Node().Replicas(c.Nodes[0].Node().PartitionOf("default", []byte(key)), 3)
		if slices.Contains(pref, down.ID()) {
			missed = append(missed, key)
		}
	}
	if len(missed) == 0 {
		t.Fatal("no key had the down node among its replicas")
	}
	var backlog int64
	for _, n := range c.Nodes[:4] {
		backlog += n.Node().Stats().HintBacklog
	}
	if backlog < int64(len(missed)) {
		t.Fatalf("%d hints kept for %d writes the down node missed", backlog, len(missed))
	}
	start := time.Now()
	down.Restart()
	t.Logf("restarted in %v", time.Since(start))
	c.Eventually(func() bool {
		for _, n := range c.Nodes[:4] {
			if n.Node().Stats().HintBacklog != 0 {
				return false
			}
		}
		return true
	}, "fallbacks delivered their hints")
	for _, key := range missed {
		if o, _ := down.Node().ReadLocal(ctx, "default", []byte(key)); !o.HasLive() {
			t.Fatalf("the returned node lacks %s", key)
		}
	}
	t.Logf("%d writes went to fallbacks as hints and reached the owner %v after it returned", len(missed), time.Since(start))
}
