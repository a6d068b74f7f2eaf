package clustertest_test

import (
	"net"
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestRestartKeepsItsPorts: a killed node's ports stay held, so nothing can
// take them before the restart (under load, another test's listener did,
// and restarts failed with "bind: address already in use"). The restarted
// node serves on the same address.
func TestRestartKeepsItsPorts(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ctx := t.Context()
	victim := c.Nodes[2]
	api := victim.API
	victim.Kill()
	if l, err := net.Listen("tcp", strings.TrimPrefix(api, "http://")); err == nil {
		defer l.Close() // what another process could do with a released port
		t.Errorf("the killed node's port %s was free to take", api)
	}
	victim.Restart()
	if victim.API != api {
		t.Fatalf("restarted on %s, was %s", victim.API, api)
	}
	if _, err := victim.KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("put through the restarted node: %v", err)
	}
}
