package clustertest_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestErrorsSurviveForwarding: 5 nodes, N=3. Writes sent to a node outside
// the key's preference list are forwarded to a replica, and the replica's
// answer comes back to the client intact: the same code and detail as from
// a replica, never "unavailable" because the answer was an error. A
// forwarded write whose coordinator missed its quorum fails with that
// coordinator's QuorumFailure and is not coordinated a second time.
func TestErrorsSurviveForwarding(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 5})
	ctx := t.Context()
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if _, _, complete := n.Node().Handoffs(); !complete {
				return false
			}
		}
		return true
	}, "the ring's handoffs done (no extra replicas in preference lists)")
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "tight", Settings: &adminv1.NamespaceSettings{
		Limits: &adminv1.Limits{MaxSiblings: 2},
	}}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if _, err := n.Node().Namespace("tight"); err != nil {
				return false
			}
		}
		return true
	}, "namespace tight on every node")

	put := func(via *clustertest.Node, req *kvv1.PutRequest) (*kvv1.PutResponse, error) {
		return via.KV().Put(ctx, req)
	}

	t.Run("if_absent", func(t *testing.T) {
		key, _, outside := forwardPlacement(t, c, "default", "absent")
		via := outside[0]
		if _, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("first")}); err != nil {
			t.Fatal(err)
		}
		_, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("second"), IfAbsent: true})
		wantCode(t, err, connect.CodeAlreadyExists)
	})

	t.Run("if_context_current", func(t *testing.T) {
		key, _, outside := forwardPlacement(t, c, "default", "current")
		via := outside[0]
		first, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("v1")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("v2"), Context: first.GetContext()}); err != nil {
			t.Fatal(err)
		}
		_, err = put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("v3"), Context: first.GetContext(), IfContextCurrent: true})
		conflict := wantDetail[*kvv1.ContextConflict](t, err, connect.CodeFailedPrecondition)
		var got []string
		for _, s := range conflict.GetSiblings() {
			got = append(got, string(s.GetValue()))
		}
		if !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("the conflict carries siblings %q, want the current [v2]", got)
		}
		// The conflict's context is the current one: writing with it succeeds.
		if _, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("v3"), Context: conflict.GetContext(), IfContextCurrent: true}); err != nil {
			t.Fatalf("put with the conflict's context: %v", err)
		}
	})

	t.Run("max_siblings", func(t *testing.T) {
		key, _, outside := forwardPlacement(t, c, "tight", "siblings")
		via := outside[0]
		for i := range 2 {
			if _, err := put(via, &kvv1.PutRequest{Namespace: "tight", Key: key, Value: fmt.Appendf(nil, "blind-%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := put(via, &kvv1.PutRequest{Namespace: "tight", Key: key, Value: []byte("blind-2")})
		limit := wantDetail[*kvv1.LimitExceeded](t, err, connect.CodeResourceExhausted)
		if limit.GetLimit() != "max_siblings" || limit.GetMax() != 2 || limit.GetActual() != 3 {
			t.Fatalf("limit detail %v, want max_siblings 3 over 2", limit)
		}
	})

	// Last: it partitions the cluster. The coordinator (first of the
	// preference list) is cut off from everyone but the forwarding node, so
	// with w=3 it applies the write, gets the forwarder's hint as its one
	// other acknowledgement, and misses the quorum. Its QuorumFailure is the
	// answer; asking the next replica would apply the same write twice.
	t.Run("quorum missed after the coordinator applied", func(t *testing.T) {
		key, pref, outside := forwardPlacement(t, c, "default", "quorum")
		via, other := outside[0], outside[1]
		c.Partition([]int{pref[0].Index}, []int{pref[1].Index, pref[2].Index, other.Index})
		_, err := put(via, &kvv1.PutRequest{Namespace: "default", Key: key, Value: []byte("once"), W: 3})
		quorum := wantDetail[*kvv1.QuorumFailure](t, err, connect.CodeUnavailable)
		if quorum.GetRequired() != 3 || quorum.GetAcks() != 2 {
			t.Errorf("quorum detail %v, want the coordinator's 2 of 3", quorum)
		}
		c.Heal()
		var copies int
		c.Eventually(func() bool {
			res, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: key, R: 3})
			if err != nil {
				return false
			}
			copies = 0
			for _, s := range res.GetSiblings() {
				if string(s.GetValue()) == "once" {
					copies++
				}
			}
			return copies > 0
		}, "the write visible on a read of every replica")
		if copies != 1 {
			t.Fatalf("the key holds %d copies of the write, want 1 (a second coordinator applied it again)", copies)
		}
	})
}

// forwardPlacement finds a key (name plus a suffix) of namespace ns and
// returns it with its preference list (as every node sees it) and the
// nodes outside it.
func forwardPlacement(t *testing.T, c *clustertest.Cluster, ns, name string) (key []byte, pref, outside []*clustertest.Node) {
	t.Helper()
	n0 := c.Nodes[0].Node()
	meta, err := n0.Namespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	key = []byte(name)
	ids, _ := n0.Replicas(n0.PartitionOf(meta.StorageName(), key), int(meta.N))
	if len(ids) != int(meta.N) {
		t.Fatalf("preference list of %q is %v, want %d nodes", key, ids, meta.N)
	}
	for _, n := range c.Nodes {
		if i := slices.Index(ids, n.ID()); i >= 0 {
			pref = append(pref, n)
		} else {
			outside = append(outside, n)
		}
	}
	slices.SortFunc(pref, func(a, b *clustertest.Node) int {
		return slices.Index(ids, a.ID()) - slices.Index(ids, b.ID())
	})
	return key, pref, outside
}

func wantCode(t *testing.T, err error, code connect.Code) *connect.Error {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a %v error", err, code)
	}
	if ce.Code() != code {
		t.Fatalf("got %v, want code %v", ce, code)
	}
	return ce
}

func wantDetail[T proto.Message](t *testing.T, err error, code connect.Code) T {
	t.Helper()
	ce := wantCode(t, err, code)
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if m, ok := v.(T); ok {
				return m
			}
		}
	}
	var zero T
	t.Fatalf("%v carries no %T detail", ce, zero)
	return zero
}
