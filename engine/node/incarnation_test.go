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

func value(v string) dvv.Object {
	return dvv.Object{}.Update("n-peer", dvv.Clock{}, dvv.Sibling{Value: []byte(v)})
}

// recreate deletes and creates a namespace again, returning the incarnation
// before and after.
func recreate(t *testing.T, n *node.Node, name string) (before, after meta.Namespace) {
	t.Helper()
	before, err := n.Namespace(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteNamespace(name, false); err != nil {
		t.Fatal(err)
	}
	if after, err = n.CreateNamespace(meta.Namespace{Name: name}); err != nil {
		t.Fatal(err)
	}
	return before, after
}

func listAll(t *testing.T, n *node.Node, ns string) []string {
	t.Helper()
	var out []string
	err := n.ListKeys(t.Context(), node.ListRequest{Namespace: ns}, func(key, _ []byte) bool {
		out = append(out, string(key))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestApplyKeepsOnlyTheLiveIncarnation: objects from other nodes (replicas,
// hints, repairs) are merged only into the current incarnation of a
// namespace; a dead incarnation's are acknowledged and dropped, an unknown
// one's refused with a retryable error and nothing of the batch stored.
func TestApplyKeepsOnlyTheLiveIncarnation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateNamespace(meta.Namespace{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	old, cur := recreate(t, n, "x")
	live, dead := cur.StorageName(), old.StorageName()
	unknown := meta.StorageName("x", meta.NewIncarnation(cur.Version+1))

	if _, err := n.Apply(ctx, []peer.Object{{Namespace: live, Key: []byte("a"), Object: value("a")}, {Namespace: dead, Key: []byte("b"), Object: value("b")}}, true, ""); err != nil {
		t.Fatalf("a batch with a dead incarnation must be acknowledged: %v", err)
	}
	if o, _ := n.ReadLocal(ctx, live, []byte("a")); !o.HasLive() {
		t.Error("the live object was not stored")
	}
	if o, _ := n.ReadLocal(ctx, dead, []byte("b")); !o.IsZero() {
		t.Error("the dead incarnation's object was stored")
	}

	for _, owner := range []string{"", "n-elsewhere"} {
		_, err = n.Apply(ctx, []peer.Object{{Namespace: live, Key: []byte("c"), Object: value("c")}, {Namespace: unknown, Key: []byte("d"), Object: value("d")}}, true, owner)
		if !errors.Is(err, errs.ErrUnavailable) {
			t.Fatalf("owner %q: an unknown incarnation must be refused as retryable: %v", owner, err)
		}
	}
	if o, _ := n.ReadLocal(ctx, live, []byte("c")); !o.IsZero() {
		t.Error("a refused batch was partly stored")
	}
	if b := n.Stats().HintBacklog; b != 0 {
		t.Errorf("hint backlog %d after refused hints", b)
	}

	if _, err := n.Apply(ctx, []peer.Object{{Namespace: dead, Key: []byte("e"), Object: value("e")}}, true, "n-elsewhere"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(ctx, []peer.Object{{Namespace: live, Key: []byte("e"), Object: value("e")}}, true, "n-elsewhere"); err != nil {
		t.Fatal(err)
	}
	if b := n.Stats().HintBacklog; b != 1 {
		t.Fatalf("hint backlog %d, want 1 (the live incarnation's hint only)", b)
	}
	if err := n.DeleteNamespace("x", false); err != nil {
		t.Fatal(err)
	}
	if b := n.Stats().HintBacklog; b != 0 {
		t.Errorf("hint backlog %d after the namespace was deleted, want 0", b)
	}
}

// TestRecreatedNamespaceStartsEmptyAfterRestart: a node learns of a newer
// incarnation (here the metadata alone is applied, as if it had only the
// newer document and stopped before dropping anything). Clients never see
// the old data, and the next start removes it from the store.
func TestRecreatedNamespaceStartsEmptyAfterRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := quiet(node.DefaultLocalConfig())
	cfg.DataDir = t.TempDir()
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := n.CreateNamespace(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"k1", "k2", "k3"}
	for _, k := range keys {
		if _, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte(k), Value: []byte("old")}); err != nil {
			t.Fatal(err)
		}
	}
	newer := first
	newer.Version += 2 // the delete (version+1) never arrived
	newer.Incarnation = meta.NewIncarnation(newer.Version)
	if changed, err := n.ApplyNamespaceDoc(newer); err != nil || !changed {
		t.Fatalf("apply the newer incarnation: %v, %v", changed, err)
	}
	checkEmpty := func(when string) {
		t.Helper()
		for _, k := range keys {
			res, err := n.Get(ctx, node.GetRequest{Namespace: "x", Key: []byte(k)})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Object.IsZero() {
				t.Errorf("%s: %s of the old incarnation is visible: %v", when, k, res.Object.Siblings())
			}
		}
		if got := listAll(t, n, "x"); len(got) != 0 {
			t.Errorf("%s: listing shows %v", when, got)
		}
	}
	checkEmpty("before restart")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	if n, err = node.Open(cfg); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	checkEmpty("after restart")
	for _, k := range keys {
		if o, err := n.ReadLocal(ctx, first.StorageName(), []byte(k)); err != nil || !o.IsZero() {
			t.Errorf("the old incarnation's %s is still stored after restart: %v, %v", k, o.Siblings(), err)
		}
	}
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k1"), Value: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	res, err := n.Get(ctx, node.GetRequest{Namespace: "x", Key: []byte("k1")})
	if err != nil {
		t.Fatal(err)
	}
	if sibs := res.Object.Siblings(); len(sibs) != 1 || string(sibs[0].Value) != "new" {
		t.Errorf("k1 in the new incarnation: %v", sibs)
	}
	if got := listAll(t, n, "x"); len(got) != 1 || got[0] != "k1" {
		t.Errorf("listing the new incarnation: %v", got)
	}
}

// TestContextOfADeletedNamespaceIsRefused: a context read before a
// namespace was deleted carries clock entries of the old incarnation; in
// the namespace created again they could cover writes the client never saw,
// so the new incarnation refuses it.
func TestContextOfADeletedNamespaceIsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateNamespace(meta.Namespace{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	old, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k"), Value: []byte("old")})
	if err != nil {
		t.Fatal(err)
	}
	recreate(t, n, "x")
	_, err = n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k"), Value: []byte("new"), Context: old.Context})
	var inv *errs.InvalidError
	if !errors.As(err, &inv) || inv.Field != "context" {
		t.Fatalf("a put with a context of the deleted namespace: %v, want an invalid context", err)
	}
	fresh, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k"), Value: []byte("new")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k"), Value: []byte("newer"), Context: fresh.Context}); err != nil {
		t.Fatalf("a context of the new incarnation: %v", err)
	}
}
