package embed_test

import (
	"context"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
)

// startCluster starts size nodes on loopback, the first starting a cluster
// and the others joining it, as `concord serve --join` does.
func startCluster(t *testing.T, size int) []*node.Node {
	t.Helper()
	var nodes []*node.Node
	for i := range size {
		cfg := embed.Config{Node: quiet(node.DefaultConfig()), APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0"}
		cfg.Node.Partitions = 16
		cfg.Node.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:0", FastGossip: true, HandoffInterval: 20 * time.Millisecond}
		if i > 0 {
			cfg.Node.Cluster.Join = []string{nodes[0].GossipAddr()}
		}
		e, err := embed.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		nodes = append(nodes, e.Node())
	}
	return nodes
}

// TestFormClusterLikeAnOperator: the joins are staged and committed on the
// first node, every node ends with a ring of all of them and no transfer
// left, writes reach every replica, and forming the cluster again changes
// nothing.
func TestFormClusterLikeAnOperator(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := embed.FormCluster(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	first, _ := nodes[0].Ring()
	for _, n := range nodes {
		r, ok := n.Ring()
		if !ok || r.Epoch() != first.Epoch() || len(r.Members()) != 3 {
			t.Fatalf("%s: ring %v (epoch %d), want the 3 nodes at epoch %d", n.ID(), r.Members(), r.Epoch(), first.Epoch())
		}
		if _, _, done := n.Handoffs(); !done {
			t.Fatalf("%s: transfers left after FormCluster", n.ID())
		}
		if staged := n.Staged(); len(staged) != 0 {
			t.Fatalf("%s: changes still staged: %v", n.ID(), staged)
		}
	}
	// W=3 needs every node through its advertised peer address.
	if _, err := nodes[2].Put(ctx, node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v"), W: 3}); err != nil {
		t.Fatalf("put with w=3: %v", err)
	}
	if err := embed.FormCluster(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	if again, _ := nodes[0].Ring(); again.Epoch() != first.Epoch() {
		t.Fatalf("forming the cluster again moved the ring from epoch %d to %d", first.Epoch(), again.Epoch())
	}
}

// TestFormClusterOfOne: a node alone is a cluster already.
func TestFormClusterOfOne(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 1)
	if err := embed.FormCluster(t.Context(), nodes...); err != nil {
		t.Fatal(err)
	}
	if r, ok := nodes[0].Ring(); !ok || len(r.Members()) != 1 {
		t.Fatalf("ring of a lone node: %v", r.Members())
	}
}
