package server_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// RotateAdminCredential: a namespace token, even with the admin scope,
// cannot call it; the admin credential can, and from then on the old one
// is refused and the new one (generated and returned once, or given and
// not echoed) works. Namespace tokens are not affected.
func TestRotateAdminCredential(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	_, nsAdmin := newToken(t, root.admin, ns, admin, read)
	tok := clientsAs(t, url, nsAdmin)
	_, err := tok.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{})
	wantError(t, err, connect.CodePermissionDenied, "admin credential")
	_, err = tok.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{NewCredential: "chosen-by-a-namespace-token-0123"})
	wantError(t, err, connect.CodePermissionDenied, "admin credential")
	if _, err := root.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{}); err != nil {
		t.Fatalf("the refused calls changed the admin credential: %v", err)
	}

	_, err = root.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{NewCredential: "short"})
	wantError(t, err, connect.CodeInvalidArgument, "20 characters")
	_, err = root.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{NewCredential: adminToken})
	wantError(t, err, connect.CodeInvalidArgument, "current")

	res, err := root.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{})
	if err != nil {
		t.Fatal(err)
	}
	gen := res.GetCredential()
	if !strings.HasPrefix(gen, "cca_") || res.GetVersion() != 2 {
		t.Fatalf("generated %q version %d, want a cca_ credential at version 2", gen, res.GetVersion())
	}
	_, err = root.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{})
	wantError(t, err, connect.CodeUnauthenticated)
	next := clientsAs(t, url, gen)
	if _, err := next.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{}); err != nil {
		t.Fatalf("the generated credential: %v", err)
	}
	if _, err := tok.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")}); err != nil {
		t.Errorf("a namespace token after the rotation: %v", err)
	}

	const chosen = "an-operator-chosen-credential-0123456789"
	res, err = next.admin.RotateAdminCredential(t.Context(), &adminv1.RotateAdminCredentialRequest{NewCredential: chosen})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetCredential() != "" || res.GetVersion() != 3 {
		t.Errorf("a given credential: response %v, want it not echoed, version 3", res)
	}
	_, err = next.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{})
	wantError(t, err, connect.CodeUnauthenticated)
	if _, err := clientsAs(t, url, chosen).admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{}); err != nil {
		t.Fatalf("the chosen credential: %v", err)
	}
}
