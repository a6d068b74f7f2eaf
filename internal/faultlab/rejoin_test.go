package faultlab_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	concord "github.com/concord-kv/concord/sdk/go"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// TestServeRetriesItsSeeds restarts a node of a two-node cluster while its
// only seed is down: it must come up and serve with its stored ring, and
// join on its own once the seed is back — the seed restarts without any
// --join, so only the restarted node's retries can bring them together.
func TestServeRetriesItsSeeds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	flags := []string{"--partitions", "16", "--log-level", "info"}
	a := procs.Start(t, t.TempDir(), flags...)
	b := procs.Start(t, t.TempDir(), append(flags, "--join", a.Gossip)...)
	adminA := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, a.Endpoint)
	adminB := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, b.Endpoint)
	eventually(t, 30*time.Second, "b alive in a's view", func() bool { return aliveMembers(ctx, adminA) == 2 })
	if _, err := adminA.StageJoin(ctx, &adminv1.StageJoinRequest{Node: b.Endpoint}); err != nil {
		t.Fatal(err)
	}
	if _, err := adminA.CommitChanges(ctx, &adminv1.CommitChangesRequest{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "b has the two-node ring", func() bool {
		st, err := adminB.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		return err == nil && st.GetRingEpoch() >= 2
	})

	a.Kill()
	b.Kill()
	b.Restart() // its seed a is down: it must serve anyway
	if n := aliveMembers(ctx, adminB); n != 1 {
		t.Fatalf("restarted b sees %d alive members, want only itself", n)
	}
	a.SetArgs(flags...) // no seeds: a can only be found
	a.Restart()
	eventually(t, 60*time.Second, "b rejoins a after a comes back", func() bool {
		return aliveMembers(ctx, adminA) == 2 && aliveMembers(ctx, adminB) == 2
	})
	// N=3 on two nodes: W=2 needs both, so the write proves they talk.
	kv := concord.New(b.Endpoint, concord.WithToken(testcred.AdminToken))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kv.Put(wctx, []byte("k"), []byte("v")); err != nil {
		t.Fatalf("put after the rejoin: %v", err)
	}
	if !strings.Contains(b.Logs(), "joined the cluster") {
		t.Errorf("b's logs do not say it joined through its retries:\n%s", b.Logs())
	}
}

// TestServeWithoutRingNeedsASeed: a brand-new node whose seeds are all down
// has nothing to serve, so it exits at once with a clear error.
func TestServeWithoutRingNeedsASeed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dead := "127.0.0.1:" + strconv.Itoa(procs.FreePort(t))
	cmd := exec.CommandContext(ctx, procs.Binary(t), "serve", "--data-dir", t.TempDir(),
		"--api-addr", "127.0.0.1:0", "--peer-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--join", dead)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve with a dead seed and no ring: err %v, ctx %v, want a prompt failure\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "cannot serve alone") {
		t.Fatalf("the error does not explain itself:\n%s", out)
	}
}

// aliveMembers counts the alive members in a node's view (-1 if it does
// not answer).
func aliveMembers(ctx context.Context, admin adminv1connect.AdminServiceClient) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
	if err != nil {
		return -1
	}
	alive := 0
	for _, m := range st.GetMembers() {
		if m.GetState() == adminv1.MemberState_MEMBER_STATE_ALIVE {
			alive++
		}
	}
	return alive
}
