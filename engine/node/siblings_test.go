package node_test

import (
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
)

// TestMaxSiblingsBindsCoordinatorsNotReplicas: max_siblings refuses a
// client write that would grow a key past the limit, at the coordinator;
// a replica merging what another replica sent (replication, read repair,
// hints, anti-entropy, handoff) keeps every sibling, over the limit too,
// because dropping one there would lose an acknowledged write.
func TestMaxSiblingsBindsCoordinatorsNotReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tight, err := n.CreateNamespace(meta.Namespace{Name: "tight", Limits: meta.Limits{MaxSiblings: 2}})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("k")
	put := func(v string) error {
		_, err := n.Put(ctx, node.PutRequest{Namespace: "tight", Key: key, Value: []byte(v)})
		return err
	}
	for _, v := range []string{"1", "2"} {
		if err := put(v); err != nil {
			t.Fatalf("blind put %s: %v", v, err)
		}
	}
	var lim *errs.LimitError
	if err := put("3"); !errors.As(err, &lim) || lim.Limit != "max_siblings" {
		t.Fatalf("a third blind put: %v, want the max_siblings limit", err)
	}

	// Two writes coordinated elsewhere, concurrent with both local ones.
	remote := dvv.Object{}.Update("x", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	remote = dvv.Sync(remote, dvv.Object{}.Update("y", dvv.Clock{}, dvv.Sibling{Value: []byte("y")}))
	if _, err := n.Apply(ctx, []peer.Object{{Namespace: tight.StorageName(), Key: key, Object: remote}}, false, ""); err != nil {
		t.Fatalf("replica merge: %v", err)
	}
	local, err := n.ReadLocal(ctx, tight.StorageName(), key) // peers name the incarnation's storage namespace
	if err != nil || local.Len() != 4 {
		t.Fatalf("after the merge the replica holds %d siblings (%v), want all 4 over the limit of 2", local.Len(), err)
	}
	res, err := n.Get(ctx, node.GetRequest{Namespace: "tight", Key: key})
	if err != nil || res.Object.Len() != 4 {
		t.Fatalf("get: %d siblings, %v; want all 4", res.Object.Len(), err)
	}
	if err := put("5"); !errors.As(err, &lim) {
		t.Fatalf("a blind put on a key over the limit: %v, want the max_siblings limit", err)
	}
}
