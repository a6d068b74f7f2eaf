package e2e_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// TestProcessClusterSurvivesKill9 runs three real `concord serve` processes
// on loopback, forms a ring through the admin API, and kills one with
// SIGKILL during a write load (N=3, W=2). After it restarts and the hints
// drain, every acknowledged write is readable with R=3.
func TestProcessClusterSurvivesKill9(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	start := func(join string) *procs.Node {
		args := []string{"--gossip-addr", "127.0.0.1:" + strconv.Itoa(procs.FreePort(t)), "--partitions", "64", "--log-level", "info"}
		if join != "" {
			args = append(args, "--join", join)
		}
		return procs.Start(t, t.TempDir(), args...)
	}
	a := start("")
	b := start(a.Gossip)
	c := start(a.Gossip)
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, a.Endpoint)

	eventually(t, 30*time.Second, "three alive members", func() bool {
		st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		alive := 0
		for _, m := range st.GetMembers() {
			if m.GetState() == adminv1.MemberState_MEMBER_STATE_ALIVE {
				alive++
			}
		}
		return err == nil && alive == 3
	})
	for _, n := range []*procs.Node{b, c} {
		if _, err := admin.StageJoin(ctx, &adminv1.StageJoinRequest{Node: n.Endpoint}); err != nil {
			t.Fatalf("stage join %s: %v", n.Endpoint, err)
		}
	}
	if _, err := admin.CommitChanges(ctx, &adminv1.CommitChangesRequest{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ring on every node", func() bool {
		for _, n := range []*procs.Node{a, b, c} {
			st, err := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, n.Endpoint).ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
			if err != nil || st.GetRingEpoch() < 2 {
				return false
			}
		}
		return true
	})

	var (
		mu        sync.Mutex
		acked     = map[string]bool{}
		wg        sync.WaitGroup
		killPoint = make(chan struct{})
	)
	for w, n := range []*procs.Node{a, b} {
		kv := kvv1connect.NewKVServiceClient(testcred.HTTPClient, n.Endpoint)
		wg.Go(func() {
			for i := range 400 {
				key := fmt.Sprintf("w%d-%04d", w, i)
				if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte(key)}); err != nil {
					continue // an unacknowledged write promises nothing
				}
				mu.Lock()
				acked[key] = true
				if len(acked) == 200 {
					close(killPoint)
				}
				mu.Unlock()
			}
		})
	}
	<-killPoint
	c.Kill()
	wg.Wait()
	c.Restart()

	eventually(t, 60*time.Second, "hints drained", func() bool {
		return metric(t, a.Admin, "concord_hint_backlog") == 0 && metric(t, b.Admin, "concord_hint_backlog") == 0
	})
	kv := kvv1connect.NewKVServiceClient(testcred.HTTPClient, a.Endpoint)
	for key := range acked {
		r := uint32(3)
		res, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(key), R: r})
		if err != nil {
			t.Fatalf("get %s with R=3: %v", key, err)
		}
		if !res.GetFound() || string(res.GetSiblings()[0].GetValue()) != key {
			t.Fatalf("acknowledged write %s lost: %v", key, res.GetSiblings())
		}
	}
	t.Logf("%d acknowledged writes readable with R=3 after SIGKILL and restart; %v hints delivered",
		len(acked), metric(t, a.Admin, "concord_hints_delivered_total")+metric(t, b.Admin, "concord_hints_delivered_total"))
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := wait.Within(t.Context(), d, cond); err != nil {
		t.Fatalf("timed out after %v waiting for: %s", d, what)
	}
}

// metric reads one unlabelled metric from a node's admin listener (-1 if
// absent).
func metric(t *testing.T, admin, name string) float64 {
	t.Helper()
	return procs.Metric(t.Context(), testcred.HTTPClient, admin, name)
}
