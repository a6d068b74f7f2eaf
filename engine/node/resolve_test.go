package node_test

import (
	"testing"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
)

// TestNamespacesKeepTheirOwnResolvers: two namespaces with different
// resolvers get the same concurrent writes to the same key; each merges
// with its own module, and neither sees the other's data.
func TestNamespacesKeepTheirOwnResolvers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for ns, name := range map[string]string{"sets": "set-union", "lww": "lww"} {
		if _, err := n.CreateNamespace(meta.Namespace{Name: ns}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := n.ActivateResolver(ctx, node.ResolverUpload{Namespace: ns, Builtin: name, Resolver: meta.Resolver{Mode: meta.ModeOnWrite}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"sets", "lww"} {
		for _, v := range []string{`["b","a"]`, `["c"]`} { // blind writes: concurrent
			if _, err := n.Put(ctx, node.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte(v)}); err != nil {
				t.Fatalf("%s: put %s: %v", ns, v, err)
			}
		}
	}
	want := map[string]string{"sets": `["a","b","c"]`, "lww": `["c"]`}
	for ns, v := range want {
		res, err := n.Get(ctx, node.GetRequest{Namespace: ns, Key: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		sibs := res.Object.Siblings()
		if len(sibs) != 1 || string(sibs[0].Value) != v {
			t.Errorf("%s: %d siblings (first %q), want the one merged value %s", ns, len(sibs), sibs[0].Value, v)
		}
	}
	for _, st := range n.ResolverStats() {
		if st.Stats.Calls == 0 {
			t.Errorf("namespace %s: its pool made no call", st.Namespace)
		}
	}
	if got := len(n.ResolverStats()); got != 2 {
		t.Errorf("%d pools, want one per namespace", got)
	}
}
