package clustertest_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// TestTokensSpreadAndRevocationReachesEveryNode: only node 0 was given
// the admin credential (the others take the cluster's from gossip); a
// token made on node 0 works on every node, and once revoked on node 1 it
// is refused by every node within the harness's bounded wait.
func TestTokensSpreadAndRevocationReachesEveryNode(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	// Every node accepts the admin credential node 0 was started with.
	for _, n := range c.Nodes {
		if !n.Node().HasAdminCredential() {
			t.Fatalf("node %d has no admin credential", n.Index)
		}
	}
	admin0 := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	if _, err := admin0.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	res, err := admin0.CreateToken(ctx, &adminv1.CreateTokenRequest{Namespace: "a", Scopes: []adminv1.TokenScope{adminv1.TokenScope_TOKEN_SCOPE_READ}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(n *clustertest.Node) error {
		kv := kvv1connect.NewKVServiceClient(http.DefaultClient, n.API, connect.WithInterceptors(concord.Bearer(res.GetSecret())))
		_, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "a", Key: []byte("k")})
		return err
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if get(n) != nil {
				return false
			}
		}
		return true
	}, "the token accepted by every node")

	revoked := time.Now()
	admin1 := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[1].API)
	if _, err := admin1.RevokeToken(ctx, &adminv1.RevokeTokenRequest{Id: res.GetToken().GetId()}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			var ce *connect.Error
			if err := get(n); !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated {
				return false
			}
		}
		return true
	}, "the revoked token refused by every node")
	// Gossip spreads a document within a few of its intervals (fast
	// gossip in this harness): far below this bound.
	if took := time.Since(revoked); took > 10*time.Second {
		t.Errorf("the revocation took %v to reach every node", took)
	}
}

// TestAdminRotationReachesEveryNode: the admin credential rotated through
// node 0 is refused by every node, and the new one accepted by every node,
// within the harness's bounded wait. A namespace token, even with the
// admin scope, cannot rotate it.
func TestAdminRotationReachesEveryNode(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	status := func(n *clustertest.Node, cred string) error {
		admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, n.API, connect.WithInterceptors(concord.Bearer(cred)))
		_, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		return err
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if status(n, testcred.AdminToken) != nil {
				return false
			}
		}
		return true
	}, "the admin credential accepted by every node")

	admin0 := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	tok, err := admin0.CreateToken(ctx, &adminv1.CreateTokenRequest{Namespace: "default", Scopes: []adminv1.TokenScope{adminv1.TokenScope_TOKEN_SCOPE_ADMIN}})
	if err != nil {
		t.Fatal(err)
	}
	byToken := adminv1connect.NewAdminServiceClient(http.DefaultClient, c.Nodes[0].API, connect.WithInterceptors(concord.Bearer(tok.GetSecret())))
	c.Eventually(func() bool {
		_, err := byToken.ListTokens(ctx, &adminv1.ListTokensRequest{Namespace: "default"})
		return err == nil
	}, "the namespace token accepted")
	var ce *connect.Error
	if _, err := byToken.RotateAdminCredential(ctx, &adminv1.RotateAdminCredentialRequest{}); !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
		t.Fatalf("RotateAdminCredential with a namespace token: %v, want permission_denied", err)
	}

	rotated := time.Now()
	res, err := admin0.RotateAdminCredential(ctx, &adminv1.RotateAdminCredentialRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := res.GetCredential()
	if fresh == "" || fresh == testcred.AdminToken {
		t.Fatalf("RotateAdminCredential returned %q", fresh)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if err := status(n, testcred.AdminToken); !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated {
				return false
			}
			if status(n, fresh) != nil {
				return false
			}
		}
		return true
	}, "the old admin credential refused and the new one accepted by every node")
	if took := time.Since(rotated); took > 10*time.Second {
		t.Errorf("the rotation took %v to reach every node", took)
	}
}
