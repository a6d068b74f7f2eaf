package node_test

import (
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
)

// TestNamespaceAdministration: the checks a namespace change must pass
// live in the node, whatever API calls it.
func TestNamespaceAdministration(t *testing.T) {
	t.Parallel()
	buffered := meta.Namespace{Name: "buf", Durability: meta.DurabilityBuffered}
	cases := []struct {
		name  string
		do    func(n *node.Node) error
		check func(error) bool
	}{
		{"create: bad name", func(n *node.Node) error {
			_, err := n.CreateNamespace(meta.Namespace{Name: "a\x00b"})
			return err
		}, invalid("namespace")},
		{"create: dw on a buffered namespace", func(n *node.Node) error {
			ns := buffered
			ns.DW = 1
			_, err := n.CreateNamespace(ns)
			return err
		}, invalid("dw")},
		{"create: twice", func(n *node.Node) error {
			_, err := n.CreateNamespace(meta.Namespace{Name: "x"})
			return err
		}, func(err error) bool { return errors.Is(err, errs.ErrNamespaceExists) }},
		{"update: a field that cannot change", func(n *node.Node) error {
			_, err := n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "x", N: 5}, Fields: []string{"n"}})
			return err
		}, invalid("update_mask")},
		{"update: dw named on a buffered namespace", func(n *node.Node) error {
			if _, err := n.CreateNamespace(buffered); err != nil {
				return err
			}
			_, err := n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "buf", DW: 1}, Fields: []string{"dw"}})
			return err
		}, invalid("dw")},
		{"update: no such namespace", func(n *node.Node) error {
			_, err := n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "nope", R: 1}, Fields: []string{"r"}})
			return err
		}, func(err error) bool { return errors.Is(err, errs.ErrNamespaceNotFound) }},
		{"delete: no such namespace", func(n *node.Node) error { return n.DeleteNamespace("nope", false) },
			func(err error) bool { return errors.Is(err, errs.ErrNamespaceNotFound) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.do(openLocal(t)); !c.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestUpdateNamespaceFields: named fields change alone, a named field left
// zero goes back to its default, an update names at least one field, and
// no update touches the resolver.
func TestUpdateNamespaceFields(t *testing.T) {
	t.Parallel()
	n := openLocal(t)
	if _, _, err := n.ActivateResolver(t.Context(), node.ResolverUpload{Namespace: "x", Builtin: "lww"}); err != nil {
		t.Fatal(err)
	}
	before, _ := n.Namespace("x")
	cur, err := n.UpdateNamespace(node.NamespaceUpdate{
		Namespace: meta.Namespace{Name: "x", Limits: meta.Limits{MaxSiblings: 7, MaxValueBytes: 99}},
		Fields:    []string{"limits.max_siblings"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Limits.MaxSiblings != 7 || cur.Limits.MaxValueBytes != before.Limits.MaxValueBytes {
		t.Fatalf("limits after updating max_siblings alone: %+v (before %+v)", cur.Limits, before.Limits)
	}
	cur, err = n.UpdateNamespace(node.NamespaceUpdate{
		Namespace: meta.Namespace{Name: "x", Limits: meta.Limits{ReadsPerSecond: 5, WritesPerSecond: 6, MaxSiblings: 1}},
		Fields:    []string{"limits.writes_per_second", "limits.reads_per_second"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Limits.ReadsPerSecond != 5 || cur.Limits.WritesPerSecond != 6 || cur.Limits.MaxSiblings != 7 {
		t.Fatalf("limits after updating the rates: %+v", cur.Limits)
	}
	if cur, err = n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "x"}, Fields: []string{"limits.writes_per_second"}}); err != nil {
		t.Fatal(err)
	}
	if cur.Limits.ReadsPerSecond != 5 || cur.Limits.WritesPerSecond != 0 {
		t.Fatalf("limits after lifting writes_per_second: %+v", cur.Limits)
	}
	if cur, err = n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "x", Durability: meta.DurabilityBuffered}, Fields: []string{"durability"}}); err != nil {
		t.Fatal(err)
	}
	if cur.Durability != meta.DurabilityBuffered || cur.Limits.MaxSiblings != 7 || cur.DW != 1 {
		t.Fatalf("after making it buffered: %+v", cur)
	}
	if cur, err = n.UpdateNamespace(node.NamespaceUpdate{Namespace: meta.Namespace{Name: "x"}, Fields: []string{"limits.max_siblings"}}); err != nil {
		t.Fatal(err)
	}
	if cur.Limits.MaxSiblings != meta.DefaultLimits().MaxSiblings {
		t.Fatalf("max_siblings named and zero = %d, want the default %d", cur.Limits.MaxSiblings, meta.DefaultLimits().MaxSiblings)
	}
	if _, err := n.UpdateNamespace(node.NamespaceUpdate{Namespace: cur}); !errors.As(err, new(*errs.InvalidError)) {
		t.Fatalf("an update naming no field: %v, want an InvalidError", err)
	}
	if cur.Resolver == nil || cur.Resolver.Name != "lww" {
		t.Fatalf("an update changed the resolver: %+v", cur.Resolver)
	}
	got, err := n.Namespace("x")
	if err != nil || got.Version != cur.Version {
		t.Fatalf("Namespace after updates: %+v, %v", got, err)
	}
	if err := n.DeleteNamespace("x", false); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Namespace("x"); !errors.Is(err, errs.ErrNamespaceNotFound) {
		t.Fatalf("Namespace after delete: %v", err)
	}
}
