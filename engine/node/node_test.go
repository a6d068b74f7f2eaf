package node_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
)

func quiet(c node.Config) node.Config {
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []struct {
		name   string
		mutate func(*node.Config)
		want   string
	}{
		{"partitions not a power of two", func(c *node.Config) { c.Partitions = 100 }, "power of two"},
		{"no partitions", func(c *node.Config) { c.Partitions = 0 }, "power of two"},
		{"r above n", func(c *node.Config) { c.Namespace.R = 4 }, "r is 4"},
		{"w above n", func(c *node.Config) { c.Namespace.W = 5 }, "w is 5"},
		{"dw above w", func(c *node.Config) { c.Namespace.DW = 3 }, "dw is 3"},
		{"node id too long", func(c *node.Config) { c.NodeID = strings.Repeat("x", 65) }, "1 to 64"},
		{"node id with a dot", func(c *node.Config) { c.NodeID = "a.b" }, "letters, digits"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := node.DefaultConfig()
			b.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, b.want)
			}
		})
	}
	for _, c := range []node.Config{node.DefaultConfig(), node.DefaultLocalConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("default config invalid: %v", err)
		}
	}
}

// TestStoreKeepsIdentityAndNamespaces reopens a Pebble store and checks that
// the node ID, the namespaces and the partition count survive, and that a
// mismatched partition count or node ID is refused.
func TestStoreKeepsIdentityAndNamespaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := quiet(node.DefaultLocalConfig())
	cfg.DataDir = dir
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := n.ID()
	if _, err := n.CreateNamespace(meta.Namespace{Name: "carts", N: 1}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n, err = node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID() != id {
		t.Errorf("node ID changed across restart: %s → %s", id, n.ID())
	}
	var names []string
	for _, ns := range n.Namespaces() {
		names = append(names, ns.Name)
	}
	if strings.Join(names, ",") != "carts,default" {
		t.Errorf("namespaces after restart = %v", names)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	other := cfg
	other.Partitions = 512
	if _, err := node.Open(other); err == nil || !strings.Contains(err.Error(), "256 partitions") {
		t.Errorf("reopening with another partition count: %v", err)
	}
	other = cfg
	other.NodeID = "someone-else"
	if _, err := node.Open(other); err == nil || !strings.Contains(err.Error(), "belongs to node") {
		t.Errorf("reopening as another node: %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
