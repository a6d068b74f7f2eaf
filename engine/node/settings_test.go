package node_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/membership/memnet"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
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

// TestHandoffIsPacedAtTheSender: a whole-partition transfer (a handoff)
// waits on the sending node's handoff limiter, whose pacer judges the
// latency of the clients the sender serves (a joining receiver has none);
// a listing, which names a namespace, does not. At one object a second
// the bucket holds one object, so within a 200 ms deadline a handoff
// sends one and stops at the limiter while a listing of the same
// partition sends them all.
func TestHandoffIsPacedAtTheSender(t *testing.T) {
	t.Parallel()
	cfg := quiet(node.DefaultConfig())
	cfg.DataDir = t.TempDir()
	cfg.Partitions = 4
	cfg.Cluster = &node.ClusterConfig{
		GossipAddr: "127.0.0.1:7946", FastGossip: true, GossipTransport: memnet.NewNetwork().NewTransport("127.0.0.1:7946"),
		HandoffObjectsPerSecond: 1,
	}
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for i := range 40 { // 4 partitions: at least one holds 10
		if _, err := n.Put(t.Context(), node.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v"), W: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := n.Namespace("default")
	if err != nil {
		t.Fatal(err)
	}
	transfer := func(req peer.TransferRequest) (int, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		sent := 0
		err := n.Transfer(ctx, req, func(peer.Object, uint64) error { sent++; return nil })
		return sent, err
	}
	for p := range uint16(4) {
		listed, err := transfer(peer.TransferRequest{Partition: p, Namespace: ns.StorageName()})
		if err != nil {
			t.Fatalf("listing partition %d: %v", p, err)
		}
		if listed < 2 {
			continue
		}
		handed, err := transfer(peer.TransferRequest{Partition: p})
		if handed != 1 || err == nil {
			t.Fatalf("a handoff of partition %d (%d objects) at 1 object a second: sent %d, err %v; want 1 sent, then stopped by the limiter", p, listed, handed, err)
		}
		return
	}
	t.Fatal("no partition holds two objects: the test checked nothing")
}
