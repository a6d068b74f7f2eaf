package clustertest_test

import (
	"testing"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/clustertest"
)

// TestPeerStreamsObeyPartitions: once the nodes' hot calls ride peer
// streams, a partition cuts them as it cuts Connect calls — a read that
// needs the replica on the other side fails — and after the heal they
// ride streams again and the read succeeds. (If the fault injection missed
// the streams, every partition test in this package would test Connect
// alone while the nodes talk over streams.)
func TestPeerStreamsObeyPartitions(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
	ctx := t.Context()
	n0, id1, id2 := c.Nodes[0].Node(), c.Nodes[1].Node().ID(), c.Nodes[2].Node().ID()
	put := node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v"), W: 3}
	get := node.GetRequest{Namespace: "default", Key: []byte("k"), R: 3}
	c.Eventually(func() bool {
		_, err := n0.Put(ctx, put)
		return err == nil
	}, "a put acknowledged by all three replicas")
	c.Eventually(func() bool { return n0.PeerStreaming(id1) && n0.PeerStreaming(id2) }, "node 0's streams to nodes 1 and 2 open")
	if _, err := n0.Get(ctx, get); err != nil {
		t.Fatalf("a read of all three replicas over streams: %v", err)
	}

	c.Partition([]int{0}, []int{1})
	if res, err := n0.Get(ctx, get); err == nil {
		t.Fatalf("a read of all three replicas across a partition succeeded (%d replies): the partition did not cut node 0's stream to node 1", res.Replies)
	}

	c.Heal()
	c.Eventually(func() bool {
		_, err := n0.Get(ctx, get)
		return err == nil && n0.PeerStreaming(id1)
	}, "after the heal, reads of all three replicas succeed over a stream again")
}
