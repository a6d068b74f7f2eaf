package node_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/membership/memnet"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
)

// TestClusterSettingsSetTheBackgroundCeilingsAndSurviveARestart: a
// background rate the settings leave unset is the node's configured one;
// a set one replaces it on the running limiters, is still in force after a
// restart (before any gossip), and a named zero returns to the node's.
func TestClusterSettingsSetTheBackgroundCeilingsAndSurviveARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() *node.Node {
		t.Helper()
		cfg := quiet(node.DefaultConfig())
		cfg.DataDir = dir
		cfg.Cluster = &node.ClusterConfig{
			GossipAddr: "127.0.0.1:7946", FastGossip: true, GossipTransport: memnet.NewNetwork().NewTransport("127.0.0.1:7946"),
			HandoffObjectsPerSecond: 700,
		}
		n, err := node.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wantCeilings := func(n *node.Node, handoff, hints, aae float64) {
		t.Helper()
		want := map[string]float64{"handoff": handoff, "hints": hints, "aae": aae}
		if got := n.BackgroundCeilings(); !maps.Equal(got, want) {
			t.Errorf("background ceilings %v, want %v", got, want)
		}
		s := n.ClusterSettings()
		if got := map[string]float64{"handoff": float64(s.HandoffObjectsPerSecond), "hints": float64(s.HintsPerSecond), "aae": float64(s.AAEKeysPerSecond)}; !maps.Equal(got, want) {
			t.Errorf("ClusterSettings rates %v, want %v", got, want)
		}
	}

	n := open()
	wantCeilings(n, 700, 10000, 5000)
	if _, err := n.UpdateClusterSettings(meta.ClusterSettings{HandoffObjectsPerSecond: 5000, AAEKeysPerSecond: 50}, []string{"handoff_objects_per_second", "aae_keys_per_second"}); err != nil {
		t.Fatal(err)
	}
	wantCeilings(n, 5000, 10000, 50)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = open()
	defer n.Close()
	wantCeilings(n, 5000, 10000, 50)
	got, err := n.UpdateClusterSettings(meta.ClusterSettings{}, []string{"handoff_objects_per_second"})
	if err != nil {
		t.Fatal(err)
	}
	if got.HandoffObjectsPerSecond != 700 || got.Version != 2 {
		t.Errorf("UpdateClusterSettings answered %+v, want the node's handoff rate 700 at version 2", got)
	}
	wantCeilings(n, 700, 10000, 50)
}

// TestClusterSettingsCapNamespaces: max_namespaces and
// max_namespace_ops_per_second are checked by the node, whatever API
// calls it.
func TestClusterSettingsCapNamespaces(t *testing.T) {
	t.Parallel()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.UpdateClusterSettings(meta.ClusterSettings{MaxNamespaces: 2, MaxNamespaceOpsPerSecond: 10}, []string{"max_namespaces", "max_namespace_ops_per_second"}); err != nil {
		t.Fatal(err)
	}
	limit := func(err error) string {
		var lim *errs.LimitError
		if !errors.As(err, &lim) {
			return ""
		}
		return lim.Limit
	}
	if _, err := n.CreateNamespace(meta.Namespace{Name: "a", Limits: meta.Limits{WritesPerSecond: 11}}); limit(err) != "max_namespace_ops_per_second" {
		t.Errorf("create over the rate cap: %v", err)
	}
	if _, err := n.CreateNamespace(meta.Namespace{Name: "a", Limits: meta.Limits{WritesPerSecond: 10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateNamespace(meta.Namespace{Name: "b"}); limit(err) != "max_namespaces" {
		t.Errorf("create past max_namespaces: %v", err)
	}
	if _, err := n.CreateNamespace(meta.Namespace{Name: "a"}); !errors.Is(err, errs.ErrNamespaceExists) {
		t.Errorf("create of an existing name at the cap: %v, want it to exist", err)
	}
}
