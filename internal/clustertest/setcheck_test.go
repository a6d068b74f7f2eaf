package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// elements parses a set value: one element per line.
func elements(sibs []*kvv1.Sibling) map[string]bool {
	set := map[string]bool{}
	for _, s := range sibs {
		for e := range strings.SplitSeq(string(s.GetValue()), "\n") {
			if e != "" {
				set[e] = true
			}
		}
	}
	return set
}

func encodeSet(set map[string]bool) []byte {
	var es []string
	for e := range set {
		es = append(es, e)
	}
	slices.Sort(es)
	return []byte(strings.Join(es, "\n"))
}

// TestConcurrentSetWritersLoseNoElement is Jepsen's set checker: writers add
// unique elements to shared keys by read-merge-write with contexts, while
// the cluster is partitioned and a node is killed and restarted. After
// healing, every acknowledged element is present, and no read ever saw more
// siblings than writers + 1.
func TestConcurrentSetWritersLoseNoElement(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	const writers, keys, adds = 6, 3, 60

	var (
		mu          sync.Mutex
		acked       = map[string]map[string]bool{} // key → elements
		maxSiblings int
		wg          sync.WaitGroup
		progress    = make(chan struct{}, writers*adds)
	)
	for k := range keys {
		acked[fmt.Sprintf("set-%d", k)] = map[string]bool{}
	}
	add := func(ctx context.Context, n *clustertest.Node, key, elem string) error {
		got, err := n.KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key)})
		if err != nil {
			return err
		}
		mu.Lock()
		maxSiblings = max(maxSiblings, len(got.GetSiblings()))
		mu.Unlock()
		set := elements(got.GetSiblings())
		set[elem] = true
		_, err = n.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: encodeSet(set), Context: got.GetContext()})
		return err
	}
	for w := range writers {
		wg.Go(func() {
			for i := range adds {
				key := fmt.Sprintf("set-%d", (w+i)%keys)
				elem := fmt.Sprintf("w%d-e%03d", w, i)
				n := c.Nodes[(w+i)%len(c.Nodes)]
				if add(ctx, n, key, elem) == nil {
					mu.Lock()
					acked[key][elem] = true
					mu.Unlock()
				}
				progress <- struct{}{}
			}
		})
	}
	wait := func(ops int) {
		for range ops {
			<-progress
		}
	}
	wait(60)
	c.Partition([]int{0, 1}, []int{2})
	wait(60)
	c.Heal()
	wait(40)
	c.Nodes[1].Kill()
	wait(60)
	c.Nodes[1].Restart()
	wg.Wait()
	c.Heal()

	total := 0
	for key, want := range acked {
		c.Eventually(func() bool { return converged(localObjects(t, c, key)) }, "replicas of "+key+" converge")
		got, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key), R: 3})
		if err != nil {
			t.Fatal(err)
		}
		have := elements(got.GetSiblings())
		for e := range want {
			if !have[e] {
				t.Errorf("%s: acknowledged element %s lost", key, e)
			}
		}
		total += len(want)
		maxSiblings = max(maxSiblings, len(got.GetSiblings()))
	}
	if maxSiblings > writers+1 {
		t.Errorf("a read saw %d siblings; with %d writers it must be at most %d", maxSiblings, writers, writers+1)
	}
	t.Logf("%d acknowledged elements of %d attempts all present; most siblings seen %d", total, writers*adds, maxSiblings)
}
