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
	if _, err := admin0.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Namespace: &adminv1.Namespace{Name: "a"}}); err != nil {
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
