package clustertest_test

import (
	"fmt"
	"testing"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestMaxKeysAcrossTheCluster: a namespace with max_keys 50 takes 50 new
// keys written through every node; once every node's usage has spread by
// gossip, a new key is refused through any node with RESOURCE_EXHAUSTED
// and a LimitExceeded detail (no retry delay: waiting does not lift a
// quota), while overwrites and deletes still pass, and another namespace
// keeps taking new keys.
func TestMaxKeysAcrossTheCluster(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	const quota = 50
	for name, limits := range map[string]*adminv1.Limits{"capped": {MaxKeys: quota}, "free": nil} {
		if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: name, Settings: &adminv1.NamespaceSettings{Limits: limits}}); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			for _, name := range []string{"capped", "free"} {
				if _, err := n.Node().Namespace(name); err != nil {
					return false
				}
			}
		}
		return true
	}, "both namespaces on every node")
	got, err := admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "capped"})
	if err != nil || got.GetNamespace().GetLimits().GetMaxKeys() != quota {
		t.Fatalf("GetNamespace(capped) = %v, %v; want max_keys %d", got, err, quota)
	}

	put := func(via int, ns, key string, req *kvv1.PutRequest) (*kvv1.PutResponse, error) {
		if req == nil {
			req = &kvv1.PutRequest{}
		}
		req.Namespace, req.Key = ns, []byte(key)
		if req.Value == nil {
			req.Value = []byte("value")
		}
		return c.Nodes[via].KV().Put(ctx, req)
	}
	contexts := map[string][]byte{}
	for i := range quota {
		key := fmt.Sprintf("k%02d", i)
		res, err := put(i%len(c.Nodes), "capped", key, &kvv1.PutRequest{W: 3})
		if err != nil {
			t.Fatalf("new key %d of %d: %v", i+1, quota, err)
		}
		contexts[key] = res.GetContext()
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if keys, _, err := n.Node().NamespaceUsage("capped"); err != nil || keys != quota {
				return false
			}
		}
		return true
	}, "every node's estimate of namespace capped at 50 keys")

	for via := range c.Nodes {
		_, err := put(via, "capped", fmt.Sprint("new-", via), nil)
		limit := wantDetail[*kvv1.LimitExceeded](t, err, connect.CodeResourceExhausted)
		if limit.GetLimit() != "max_keys" || limit.GetMax() != quota || limit.GetActual() != quota || limit.GetRetryAfterMs() != 0 {
			t.Fatalf("through node %d: LimitExceeded %v, want max_keys %d of %d, no retry delay", via, limit, quota, quota)
		}
	}
	if _, err := put(1, "capped", "k00", &kvv1.PutRequest{Value: []byte("a longer value"), Context: contexts["k00"]}); err != nil {
		t.Fatalf("an overwrite at the quota: %v", err)
	}
	if _, err := c.Nodes[2].KV().Delete(ctx, &kvv1.DeleteRequest{Namespace: "capped", Key: []byte("k01"), Context: contexts["k01"]}); err != nil {
		t.Fatalf("a delete at the quota: %v", err)
	}
	for i := range 5 {
		if _, err := put(i%len(c.Nodes), "free", fmt.Sprint("free-", i), nil); err != nil {
			t.Fatalf("another namespace refused a new key: %v", err)
		}
	}
}
