package server_test

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/concord-kv/concord/internal/embed"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// setClusterSettings updates the settings named in mask, failing the test
// on an error, and returns the settings in force.
func setClusterSettings(t *testing.T, admin adminv1connect.AdminServiceClient, s *adminv1.ClusterSettings, mask ...string) *adminv1.ClusterSettings {
	t.Helper()
	res, err := admin.UpdateClusterSettings(t.Context(), &adminv1.UpdateClusterSettingsRequest{Settings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
	if err != nil {
		t.Fatalf("UpdateClusterSettings(%v): %v", mask, err)
	}
	return res.GetSettings()
}

// TestClusterSettingsGetAndUpdate: the settings in force come with their
// defaults filled in; an update changes the fields of its mask only (a
// named zero returns to the default) and answers the new settings; a
// missing or unknown mask and an out-of-range value are INVALID_ARGUMENT.
func TestClusterSettingsGetAndUpdate(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		ctx := t.Context()
		defaults := &adminv1.ClusterSettings{
			MaxNamespaces: 1000, MaxResolverMemoryPages: 1024, MaxResolverDeadlineMs: 1000, MaxNamespaceOpsPerSecond: 0,
			ResolverCpuMsPerSecond: 200, HandoffObjectsPerSecond: 20000, HintsPerSecond: 10000, AaeKeysPerSecond: 5000,
		}
		get := func() *adminv1.ClusterSettings {
			t.Helper()
			res, err := c.admin.GetClusterSettings(ctx, &adminv1.GetClusterSettingsRequest{})
			if err != nil {
				t.Fatalf("GetClusterSettings: %v", err)
			}
			return res.GetSettings()
		}
		wantProtoEqual(t, "settings of a fresh node", get(), defaults)

		got := setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaces: 50, HandoffObjectsPerSecond: 5000, HintsPerSecond: 1},
			"max_namespaces", "handoff_objects_per_second")
		want := &adminv1.ClusterSettings{
			MaxNamespaces: 50, MaxResolverMemoryPages: 1024, MaxResolverDeadlineMs: 1000,
			ResolverCpuMsPerSecond: 200, HandoffObjectsPerSecond: 5000, HintsPerSecond: 10000, AaeKeysPerSecond: 5000,
		}
		wantProtoEqual(t, "after an update (hints_per_second is not in the mask)", got, want)
		wantProtoEqual(t, "GetClusterSettings after the update", get(), want)

		got = setClusterSettings(t, c.admin, &adminv1.ClusterSettings{}, "max_namespaces", "handoff_objects_per_second")
		wantProtoEqual(t, "named zeros return to the defaults", got, defaults)

		for _, mask := range [][]string{nil, {"max_namespaces", "bogus"}} {
			_, err := c.admin.UpdateClusterSettings(ctx, &adminv1.UpdateClusterSettingsRequest{
				Settings: &adminv1.ClusterSettings{MaxNamespaces: 5}, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
			})
			wantError(t, err, connect.CodeInvalidArgument, "update_mask", "max_namespaces", "aae_keys_per_second")
		}
		_, err := c.admin.UpdateClusterSettings(ctx, &adminv1.UpdateClusterSettingsRequest{
			Settings:   &adminv1.ClusterSettings{MaxResolverMemoryPages: 16385},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_resolver_memory_pages"}},
		})
		wantError(t, err, connect.CodeInvalidArgument, "max_resolver_memory_pages", "16384")
		wantProtoEqual(t, "settings after refused updates", get(), defaults)
	})
}

// TestClusterSettingsNeedTheAdminCredential: a namespace token, even with
// the admin scope, may neither read nor change them.
func TestClusterSettingsNeedTheAdminCredential(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	_, secret := newToken(t, root.admin, ns, read, write, admin)
	tok := clientsAs(t, url, secret)
	_, err := tok.admin.GetClusterSettings(t.Context(), &adminv1.GetClusterSettingsRequest{})
	wantError(t, err, connect.CodePermissionDenied, "admin credential")
	_, err = tok.admin.UpdateClusterSettings(t.Context(), &adminv1.UpdateClusterSettingsRequest{
		Settings: &adminv1.ClusterSettings{MaxNamespaces: 10000}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_namespaces"}},
	})
	wantError(t, err, connect.CodePermissionDenied, "admin credential")
}

// TestMaxNamespacesRefusesCreates: at the cap a create is
// RESOURCE_EXHAUSTED with a LimitExceeded detail (the default namespace
// counts); a create of a name that exists still answers ALREADY_EXISTS,
// and a delete makes room.
func TestMaxNamespacesRefusesCreates(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t), protocols[0])
	ctx := t.Context()
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaces: 2}, "max_namespaces")
	c.createNamespace(t, &adminv1.Namespace{Name: "a"})
	_, err := c.admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "b"})
	ce := wantError(t, err, connect.CodeResourceExhausted, "max_namespaces", "concord cluster settings set")
	if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != "max_namespaces" || d.GetMax() != 2 || d.GetActual() != 2 {
		t.Errorf("LimitExceeded = %v, want max_namespaces, max 2, actual 2", d)
	}
	_, err = c.admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "a"})
	wantError(t, err, connect.CodeAlreadyExists, "a")

	// Lowering the cap below the count deletes nothing.
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaces: 1}, "max_namespaces")
	if _, err := c.admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "a"}); err != nil {
		t.Fatalf("a namespace over a lowered cap: %v", err)
	}
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaces: 2}, "max_namespaces")
	if _, err := c.admin.DeleteNamespace(ctx, &adminv1.DeleteNamespaceRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	c.createNamespace(t, &adminv1.Namespace{Name: "b"})
}

// TestResolverCapsBoundUploads: memory_pages and the deadlines of an
// upload must fit the cluster's caps (INVALID_ARGUMENT with a
// LimitExceeded naming the cap); unset, they take their defaults lowered
// to the caps; and a cap raised past the old fixed bound of 1024 pages
// admits a resolver that then passes its law checks with that memory.
func TestResolverCapsBoundUploads(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t), protocols[0])
	ctx := t.Context()
	c.createNamespace(t, &adminv1.Namespace{Name: "r"})
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxResolverMemoryPages: 64, MaxResolverDeadlineMs: 30},
		"max_resolver_memory_pages", "max_resolver_deadline_ms")
	builtin := &adminv1.UploadResolverRequest_Builtin{Builtin: "set-union"}

	for _, tc := range []struct {
		req   *adminv1.UploadResolverRequest
		limit string
		max   uint64
	}{
		{&adminv1.UploadResolverRequest{Namespace: "r", Source: builtin, MemoryPages: 128}, "max_resolver_memory_pages", 64},
		{&adminv1.UploadResolverRequest{Namespace: "r", Source: builtin, ReadDeadlineMs: 31}, "max_resolver_deadline_ms", 30},
	} {
		_, err := c.admin.UploadResolver(ctx, tc.req)
		ce := wantError(t, err, connect.CodeInvalidArgument, tc.limit)
		if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != tc.limit || d.GetMax() != tc.max {
			t.Errorf("LimitExceeded = %v, want %s, max %d", d, tc.limit, tc.max)
		}
	}

	res, err := c.admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{Namespace: "r", Source: builtin})
	if err != nil {
		t.Fatalf("upload with the defaults under the caps: %v", err)
	}
	if r := res.GetNamespace().GetResolver(); r.GetMemoryPages() != 64 || r.GetWriteDeadlineMs() != 20 || r.GetReadDeadlineMs() != 30 {
		t.Errorf("resolver limits under caps of 64 pages and 30 ms: %v", r)
	}

	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxResolverMemoryPages: 4096, MaxResolverDeadlineMs: 5000},
		"max_resolver_memory_pages", "max_resolver_deadline_ms")
	res, err = c.admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{
		Namespace: "r", Source: &adminv1.UploadResolverRequest_Module{Module: mergesModule(t)}, Config: []byte("M"),
		// Deadlines far above what the checks need: the test machines are
		// shared, and the checks run under these limits.
		Samples: samples("apple", "pear", "fig"), MemoryPages: 2048, WriteDeadlineMs: 4000, ReadDeadlineMs: 4000,
	})
	if err != nil {
		t.Fatalf("upload of 2048 pages under a cap of 4096: %v", err)
	}
	if r := res.GetNamespace().GetResolver(); r.GetMemoryPages() != 2048 || r.GetWriteDeadlineMs() != 4000 {
		t.Errorf("resolver limits: %v", r)
	}
}

// TestMaxNamespaceOpsPerSecond: the cap refuses a higher rate on create
// and update, leaves a namespace above a lowered cap as it is (only a
// change of its rate must fit), and is the rate of a namespace that sets
// none. The node's clock stands still, so its token buckets never refill:
// what passes is the burst, whatever the scheduling.
func TestMaxNamespaceOpsPerSecond(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e := startNode(t, func(cfg *embed.Config) { cfg.Node.Now = func() time.Time { return now } })
	c := dial(t, e.APIURL(), protocols[0])
	ctx := t.Context()
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaceOpsPerSecond: 100}, "max_namespace_ops_per_second")

	_, err := c.admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "fast", Settings: &adminv1.NamespaceSettings{Limits: &adminv1.Limits{ReadsPerSecond: 101}}})
	ce := wantError(t, err, connect.CodeInvalidArgument, "max_namespace_ops_per_second", "limits.reads_per_second")
	if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != "max_namespace_ops_per_second" || d.GetMax() != 100 || d.GetActual() != 101 {
		t.Errorf("LimitExceeded = %v", d)
	}
	c.createNamespace(t, &adminv1.Namespace{Name: "fast", Limits: &adminv1.Limits{WritesPerSecond: 80}})

	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{MaxNamespaceOpsPerSecond: 3}, "max_namespace_ops_per_second")
	update := func(l *adminv1.Limits, mask ...string) error {
		_, err := c.admin.UpdateNamespace(ctx, &adminv1.UpdateNamespaceRequest{
			Name: "fast", Settings: &adminv1.NamespaceSettings{R: 1, Limits: l}, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
		})
		return err
	}
	if err := update(nil, "r"); err != nil {
		t.Errorf("an update of another setting of a namespace above a lowered cap: %v", err)
	}
	wantError(t, update(&adminv1.Limits{WritesPerSecond: 40}, "limits.writes_per_second"), connect.CodeInvalidArgument, "max_namespace_ops_per_second")
	if err := update(&adminv1.Limits{WritesPerSecond: 2}, "limits.writes_per_second"); err != nil {
		t.Errorf("a rate under the cap: %v", err)
	}

	// The default namespace sets no rate: it runs at the cap, 3 a second
	// on this one-node ring, and the clock does not move.
	passed := 0
	for i := range 6 {
		_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte{byte(i)}})
		if err == nil {
			passed++
			continue
		}
		ce := wantError(t, err, connect.CodeResourceExhausted, "writes_per_second")
		if d := detail[*kvv1.LimitExceeded](t, ce); d.GetMax() != 3 {
			t.Errorf("LimitExceeded = %v, want max 3", d)
		}
	}
	if passed != 3 {
		t.Errorf("%d of 6 writes passed at a cap of 3 a second on a stopped clock, want 3", passed)
	}
	// Lifting the cap lifts the rate of a namespace that sets none.
	setClusterSettings(t, c.admin, &adminv1.ClusterSettings{}, "max_namespace_ops_per_second")
	if _, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: []byte("k2"), Value: []byte("v")}); err != nil {
		t.Errorf("a write after the cap was lifted: %v", err)
	}
}
