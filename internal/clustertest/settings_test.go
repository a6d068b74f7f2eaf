package clustertest_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// TestClusterSettingsReachEveryNode: settings changed through the first
// node reach the last one by gossip: its handoff limiter gets the new
// ceiling, and it answers the new settings. A node that was down while
// they changed catches up when it comes back.
func TestClusterSettingsReachEveryNode(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	first, last := c.Nodes[0], c.Nodes[len(c.Nodes)-1]
	if got := last.Node().BackgroundCeilings()["handoff"]; got != 20000 {
		t.Fatalf("handoff ceiling before the change: %v, want the default 20000", got)
	}
	admin0 := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, first.API)
	set := func(s *adminv1.ClusterSettings, mask ...string) {
		t.Helper()
		if _, err := admin0.UpdateClusterSettings(t.Context(), &adminv1.UpdateClusterSettingsRequest{Settings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}}); err != nil {
			t.Fatalf("UpdateClusterSettings(%v): %v", mask, err)
		}
	}
	// eventually waits generously: the test machines are shared.
	eventually := func(cond func() bool, what string) {
		t.Helper()
		if err := wait.Within(context.Background(), 3*time.Minute, cond); err != nil {
			t.Fatalf("timed out waiting for: %s", what)
		}
	}

	set(&adminv1.ClusterSettings{HandoffObjectsPerSecond: 5000, MaxNamespaces: 40}, "handoff_objects_per_second", "max_namespaces")
	eventually(func() bool { return last.Node().BackgroundCeilings()["handoff"] == 5000 }, "the last node's handoff ceiling at 5000")
	admin2 := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, last.API)
	res, err := admin2.GetClusterSettings(t.Context(), &adminv1.GetClusterSettingsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.GetSettings(); s.GetHandoffObjectsPerSecond() != 5000 || s.GetMaxNamespaces() != 40 || s.GetHintsPerSecond() != 10000 {
		t.Errorf("the last node answers %v", s)
	}

	last.Kill()
	set(&adminv1.ClusterSettings{HintsPerSecond: 123}, "hints_per_second")
	last.Restart()
	eventually(func() bool {
		ceil := last.Node().BackgroundCeilings()
		return ceil["hints"] == 123 && ceil["handoff"] == 5000
	}, "the restarted node's hint ceiling at 123")
}
