package clustertest_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestNamespaceStatsMatchWhatWasDone: in a namespace whose siblings go to
// the client, k keys are written once, m2 keys blind by two concurrent
// writers and m3 keys by three (so they hold 2 and 3 siblings), then each
// key is read once, the requests spread over the three nodes.
// GetNamespaceStats, asked of any node, answers each node's requests and
// their total exactly, the reads by versions are k, m2 and m3, and the
// stored keys k+m2+m3 (one replica counted). A node
// that cannot answer is listed as missing and left out of the total.
func TestNamespaceStatsMatchWhatWasDone(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "tally"}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if _, err := n.Node().Namespace("tally"); err != nil {
				return false
			}
		}
		return true
	}, "namespace tally on every node")

	const k, m2, m3 = 12, 8, 6
	var (
		mu         sync.Mutex
		puts, gets [3]uint64 // by the node sent through
	)
	put := func(node int, key, value string) {
		_, err := c.Nodes[node].KV().Put(ctx, &kvv1.PutRequest{Namespace: "tally", Key: []byte(key), Value: []byte(value)})
		if err != nil {
			t.Errorf("put %s through node %d: %v", key, node, err)
		}
		mu.Lock()
		puts[node]++
		mu.Unlock()
	}
	for i := range k {
		put(i%3, fmt.Sprint("once-", i), "v")
	}
	var wg sync.WaitGroup
	for _, group := range []struct {
		prefix        string
		keys, writers int
	}{{"two-", m2, 2}, {"three-", m3, 3}} {
		for w := range group.writers {
			wg.Go(func() {
				for j := range group.keys {
					put((w+j)%3, fmt.Sprint(group.prefix, j), fmt.Sprint("writer-", w)) // blind: no context
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	read := 0
	for _, group := range []struct {
		prefix   string
		keys     int
		versions int
	}{{"once-", k, 1}, {"two-", m2, 2}, {"three-", m3, 3}} {
		for j := range group.keys {
			node := read % 3
			read++
			res, err := c.Nodes[node].KV().Get(ctx, &kvv1.GetRequest{Namespace: "tally", Key: []byte(fmt.Sprint(group.prefix, j))})
			if err != nil {
				t.Fatalf("get %s%d: %v", group.prefix, j, err)
			}
			gets[node]++
			if got := len(res.GetSiblings()); got != group.versions {
				t.Fatalf("%s%d has %d siblings, want %d", group.prefix, j, got, group.versions)
			}
		}
	}

	// Every node answers (a slow one may miss the per-node timeout on a
	// loaded machine: ask again), and once the last replicas have the
	// writes, the stored keys are the keys written, one replica counted.
	var res *adminv1.GetNamespaceStatsResponse
	via := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[1].API)
	c.Eventually(func() bool {
		var err error
		res, err = via.GetNamespaceStats(ctx, &adminv1.GetNamespaceStatsRequest{Namespace: "tally"})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.GetMissing()) == 0 && res.GetTotal().GetStoredKeys() == k+m2+m3
	}, "every node's numbers, and every key on every replica")

	wantCounts := func(what string, s *adminv1.NamespaceStats, puts, gets uint64) {
		t.Helper()
		for _, o := range s.GetOperations() {
			want := map[string]uint64{"put": puts, "get": gets}[o.GetOperation()]
			if o.GetRequests() != want || len(o.GetErrors()) != 0 {
				t.Errorf("%s: %s: %d requests, errors %v; want %d, none", what, o.GetOperation(), o.GetRequests(), o.GetErrors(), want)
			}
		}
	}
	total := res.GetTotal()
	wantCounts("total", total, k+2*m2+3*m3, k+m2+m3)
	if got, want := total.GetReadsByVersions(), []uint64{k, m2, m3, 0}; !slices.Equal(got, want) {
		t.Errorf("reads by versions = %v, want %v", got, want)
	}
	if len(res.GetNodes()) != 3 {
		t.Fatalf("%d nodes answered, want 3", len(res.GetNodes()))
	}
	for i, n := range c.Nodes {
		idx := slices.IndexFunc(res.GetNodes(), func(s *adminv1.NamespaceStats) bool { return s.GetNode() == n.ID() })
		if idx < 0 {
			t.Fatalf("node %d (%s) is not among the answers", i, n.ID())
		}
		wantCounts(fmt.Sprint("node ", i), res.GetNodes()[idx], puts[i], gets[i])
	}

	// A node that cannot answer is missing, and its numbers are not in the
	// total.
	c.Nodes[2].Kill()
	res, err := admin.GetNamespaceStats(ctx, &adminv1.GetNamespaceStatsRequest{Namespace: "tally"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetMissing(); !slices.Equal(got, []string{c.Nodes[2].ID()}) {
		t.Errorf("missing %v, want the killed node %s", got, c.Nodes[2].ID())
	}
	wantCounts("total without node 2", res.GetTotal(), puts[0]+puts[1], gets[0]+gets[1])
}
