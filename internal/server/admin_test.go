package server_test

import (
	"context"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

func TestAdminServiceNamespaceLifecycle(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		ctx := t.Context()
		created := c.createNamespace(t, &adminv1.Namespace{
			Name: "orders", R: 1, W: 1,
			Limits: &adminv1.Limits{MaxValueBytes: 4096},
		})
		want := &adminv1.Namespace{
			Name: "orders", N: 1, R: 1, W: 1, Dw: 1,
			Durability: adminv1.Durability_DURABILITY_SYNC,
			Limits:     &adminv1.Limits{MaxValueBytes: 4096, MaxKeyBytes: 1024, MaxSiblings: 100},
			CreatedAt:  created.GetCreatedAt(),
		}
		if created.GetCreatedAt().AsTime().IsZero() {
			t.Error("created namespace has no created_at")
		}
		wantProtoEqual(t, "created namespace (unset fields take the defaults)", created, want)

		got, err := c.admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "orders"})
		if err != nil {
			t.Fatalf("GetNamespace: %v", err)
		}
		wantProtoEqual(t, "GetNamespace", got.GetNamespace(), want)

		listed, err := c.admin.ListNamespaces(ctx, &adminv1.ListNamespacesRequest{})
		if err != nil {
			t.Fatalf("ListNamespaces: %v", err)
		}
		var names []string
		for _, n := range listed.GetNamespaces() {
			names = append(names, n.GetName())
		}
		if !slices.Equal(names, []string{"default", "orders"}) {
			t.Errorf("ListNamespaces: %q, want [default orders] in name order", names)
		}

		// The namespace's limits apply to its keys.
		_, err = c.kv.Put(ctx, &kvv1.PutRequest{Namespace: "orders", Key: []byte("k"), Value: make([]byte, 4097)})
		wantError(t, err, connect.CodeInvalidArgument, "max_value_bytes", "4096")

		updated, err := c.admin.UpdateNamespace(ctx, &adminv1.UpdateNamespaceRequest{
			Name: "orders", Settings: &adminv1.NamespaceSettings{Limits: &adminv1.Limits{MaxValueBytes: 8192, MaxSiblings: 7}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"limits.max_value_bytes"}},
		})
		if err != nil {
			t.Fatalf("UpdateNamespace: %v", err)
		}
		want.Limits.MaxValueBytes = 8192 // and max_siblings, not in the mask, stays
		wantProtoEqual(t, "updated namespace", updated.GetNamespace(), want)
		c.put(t, &kvv1.PutRequest{Namespace: "orders", Key: []byte("k"), Value: make([]byte, 4097)})

		if _, err := c.admin.DeleteNamespace(ctx, &adminv1.DeleteNamespaceRequest{Name: "orders"}); err != nil {
			t.Fatalf("DeleteNamespace: %v", err)
		}
		_, err = c.admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "orders"})
		wantError(t, err, connect.CodeNotFound, "orders")
		_, err = c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "orders", Key: []byte("k")})
		wantError(t, err, connect.CodeNotFound, "orders")
		_, err = c.admin.DeleteNamespace(ctx, &adminv1.DeleteNamespaceRequest{Name: "orders"})
		wantError(t, err, connect.CodeNotFound, "orders")
	})
}

func TestAdminServiceRefusesBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		call  func(ctx context.Context, c *client) error
		code  connect.Code
		words []string
	}{
		{
			name:  "CreateWithAnInvalidName",
			call:  create(&adminv1.Namespace{Name: "Not Valid!"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"Not Valid!", "namespace name"},
		},
		{
			name:  "CreateWithAnEmptyName",
			call:  create(&adminv1.Namespace{}),
			code:  connect.CodeInvalidArgument,
			words: []string{"namespace name"},
		},
		{
			name:  "CreateWithoutANamespace",
			call:  create(nil),
			code:  connect.CodeInvalidArgument,
			words: []string{"namespace"},
		},
		{
			name:  "CreateADuplicate",
			call:  create(&adminv1.Namespace{Name: "existing"}),
			code:  connect.CodeAlreadyExists,
			words: []string{"existing"},
		},
		{
			name:  "CreateTheDefaultNamespaceAgain",
			call:  create(&adminv1.Namespace{Name: "default"}),
			code:  connect.CodeAlreadyExists,
			words: []string{"default"},
		},
		{
			name:  "CreateWithROverN",
			call:  create(&adminv1.Namespace{Name: "r-over-n", N: 1, R: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"r is 2", "n (1)"},
		},
		{
			name:  "CreateWithWOverN",
			call:  create(&adminv1.Namespace{Name: "w-over-n", N: 1, W: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"w is 2", "n (1)"},
		},
		{
			name:  "CreateWithMaxSiblingsOverTheCeiling",
			call:  create(&adminv1.Namespace{Name: "many", Limits: &adminv1.Limits{MaxSiblings: 10_001}}),
			code:  connect.CodeInvalidArgument,
			words: []string{"max_siblings", "10000"},
		},
		{
			name:  "CreateWithWritesPerSecondOverTheCeiling",
			call:  create(&adminv1.Namespace{Name: "fast", Limits: &adminv1.Limits{WritesPerSecond: 1_000_001}}),
			code:  connect.CodeInvalidArgument,
			words: []string{"writes_per_second", "1000000"},
		},
		{
			name:  "UpdateReadsPerSecondOverTheCeiling",
			call:  update(&adminv1.Namespace{Name: "existing", Limits: &adminv1.Limits{ReadsPerSecond: 2_000_000}}, []string{"limits.reads_per_second"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"reads_per_second", "1000000"},
		},
		{
			name:  "CreateWithAnUnknownDurability",
			call:  create(&adminv1.Namespace{Name: "odd", Durability: 7}),
			code:  connect.CodeInvalidArgument,
			words: []string{"durability"},
		},
		{
			name:  "CreateBufferedWithDW",
			call:  create(&adminv1.Namespace{Name: "buf", Durability: adminv1.Durability_DURABILITY_BUFFERED, Dw: 1}),
			code:  connect.CodeInvalidArgument,
			words: []string{"dw", "buffered", "durability sync"},
		},
		{
			name:  "UpdateToBufferedWithDW",
			call:  update(&adminv1.Namespace{Name: "existing", Durability: adminv1.Durability_DURABILITY_BUFFERED, Dw: 1}, []string{"durability", "dw"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"dw", "buffered"},
		},
		{
			name: "GetAnUnknownNamespace",
			call: func(ctx context.Context, c *client) error {
				return second(c.admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "nope"}))
			},
			code:  connect.CodeNotFound,
			words: []string{"nope"},
		},
		{
			name:  "UpdateAnUnknownNamespace",
			call:  update(&adminv1.Namespace{Name: "nope", R: 1}, nil),
			code:  connect.CodeNotFound,
			words: []string{"nope"},
		},
		{
			name:  "UpdateWithROverN",
			call:  update(&adminv1.Namespace{Name: "existing", R: 2}, []string{"r"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"r is 2"},
		},
		{
			name:  "UpdateN",
			call:  update(&adminv1.Namespace{Name: "existing", N: 3}, []string{"n"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"update_mask", `"n"`},
		},
		{
			name:  "UpdateAnUnknownField",
			call:  update(&adminv1.Namespace{Name: "existing"}, []string{"colour"}),
			code:  connect.CodeInvalidArgument,
			words: []string{"colour"},
		},
	}
	forEachProtocol(t, func(t *testing.T, c *client) {
		existing := c.createNamespace(t, &adminv1.Namespace{Name: "existing"})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, tt.call(t.Context(), c), tt.code, tt.words...)
				got, err := c.admin.GetNamespace(t.Context(), &adminv1.GetNamespaceRequest{Name: "existing"})
				if err != nil {
					t.Fatalf("GetNamespace: %v", err)
				}
				wantProtoEqual(t, "namespace after a refused request", got.GetNamespace(), existing)
			})
		}
	})
}

// TestBufferedNamespaceKeepsAnInertDW: a buffered namespace shows the dw it
// took from the defaults (it applies if the namespace is made sync), and an
// update that does not name dw leaves it be: only a dw named in the mask is
// refused (TestAdminServiceRefusesBadRequests).
func TestBufferedNamespaceKeepsAnInertDW(t *testing.T) {
	t.Parallel()
	forProtocols(t, protocols[:1], func(t *testing.T, c *client) {
		ns := c.createNamespace(t, &adminv1.Namespace{Name: "logs", Durability: adminv1.Durability_DURABILITY_BUFFERED})
		if ns.GetDw() != 1 {
			t.Fatalf("dw of a new buffered namespace = %d, want the default 1", ns.GetDw())
		}
		ns.Limits.MaxSiblings = 7
		if err := update(ns, []string{"limits"})(t.Context(), c); err != nil {
			t.Fatalf("update of the limits: %v", err)
		}
		ns.Durability = adminv1.Durability_DURABILITY_SYNC
		if err := update(ns, []string{"durability"})(t.Context(), c); err != nil {
			t.Fatalf("make it sync: %v", err)
		}
	})
}

func create(n *adminv1.Namespace) func(context.Context, *client) error {
	return func(ctx context.Context, c *client) error {
		return second(c.admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: n.GetName(), Settings: settingsOf(n)}))
	}
}

func update(n *adminv1.Namespace, mask []string) func(context.Context, *client) error {
	return func(ctx context.Context, c *client) error {
		return second(c.admin.UpdateNamespace(ctx, &adminv1.UpdateNamespaceRequest{
			Name: n.GetName(), Settings: settingsOf(n), UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
		}))
	}
}

// settingsOf is the settings part of a namespace.
func settingsOf(n *adminv1.Namespace) *adminv1.NamespaceSettings {
	return &adminv1.NamespaceSettings{N: n.GetN(), R: n.GetR(), W: n.GetW(), Dw: n.GetDw(), Durability: n.GetDurability(), Limits: n.GetLimits()}
}

func second[T proto.Message](_ T, err error) error { return err }

// TestDeletedNamespaceDataDoesNotComeBack: deleting a namespace drops its
// keys, so re-creating the name starts empty.
func TestDeletedNamespaceDataDoesNotComeBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ep := startServer(t)
	admin := adminv1connect.NewAdminServiceClient(credentialed, ep)
	kv := kvv1connect.NewKVServiceClient(credentialed, ep)
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "gone", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DeleteNamespace(ctx, &adminv1.DeleteNamespaceRequest{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	res, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "gone", Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetFound() {
		t.Fatalf("a key of a deleted namespace came back after re-creating it: %v", res.GetSiblings())
	}
}
