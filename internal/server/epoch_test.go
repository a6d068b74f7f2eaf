package server_test

import (
	"strconv"
	"testing"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/server"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// TestKVAnswersCarryTheRingEpoch: a KV answer names the ring epoch of the
// node that gave it, the one GetTopology reports.
func TestKVAnswersCarryTheRingEpoch(t *testing.T) {
	t.Parallel()
	e := startNode(t, nil)
	get := connect.NewClient[kvv1.GetRequest, kvv1.GetResponse](credentialed, e.APIURL()+kvv1connect.KVServiceGetProcedure)
	res, err := get.CallUnary(t.Context(), connect.NewRequest(&kvv1.GetRequest{Namespace: "default", Key: []byte("k")}))
	if err != nil {
		t.Fatal(err)
	}
	top, err := kvv1connect.NewKVServiceClient(credentialed, e.APIURL()).GetTopology(t.Context(), &kvv1.GetTopologyRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := strconv.ParseUint(res.Header().Get(server.RingEpochHeader), 10, 64)
	if err != nil || got != top.GetRingEpoch() || got == 0 {
		t.Fatalf("%s = %q, want the ring epoch %d", server.RingEpochHeader, res.Header().Get(server.RingEpochHeader), top.GetRingEpoch())
	}
}
