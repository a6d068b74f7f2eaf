package embed

import (
	"context"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/internal/wait"
)

// FormCluster makes nodes one cluster the way an operator does: every node
// after the first was started with the first's gossip address to join
// (node.ClusterConfig.Join); FormCluster waits until every node sees every
// other alive, stages a join on the first node for each node not in its
// ring yet (`concord cluster join`), commits (`concord cluster commit`),
// and waits until every node has the new ring and every partition has
// moved (`concord cluster status --watch`). Nodes already in the ring are
// left alone, so forming a cluster that exists changes nothing. ctx bounds
// the whole of it.
func FormCluster(ctx context.Context, nodes ...*node.Node) error {
	if len(nodes) == 0 {
		return nil
	}
	first := nodes[0]
	if err := wait.Until(ctx, func() bool { return allAlive(nodes) }); err != nil {
		return fmt.Errorf("embed: the nodes did not find each other through gossip: %w", err)
	}
	// A ring change still moving partitions (a cluster formed before,
	// restarted) would refuse the commit.
	if err := wait.Until(ctx, func() bool { _, _, done := first.Handoffs(); return done }); err != nil {
		return fmt.Errorf("embed: an earlier ring change did not finish: %w", err)
	}
	r, ok := first.Ring()
	if !ok {
		return fmt.Errorf("embed: %s has no ring: the first node must start a cluster (no Join)", first.ID())
	}
	staged := false
	for _, n := range nodes[1:] {
		if inRing(r, n.ID()) {
			continue
		}
		if _, err := first.StageJoin(n.ID()); err != nil {
			return fmt.Errorf("embed: stage the join of %s: %w", n.ID(), err)
		}
		staged = true
	}
	if staged {
		var err error
		if r, _, err = first.Commit(); err != nil {
			return fmt.Errorf("embed: commit the joins: %w", err)
		}
	}
	if err := wait.Until(ctx, func() bool { return settled(nodes, r.Epoch()) }); err != nil {
		return fmt.Errorf("embed: ring epoch %d did not reach every node with its partitions moved: %w", r.Epoch(), err)
	}
	return nil
}

// allAlive reports whether every node sees every other alive.
func allAlive(nodes []*node.Node) bool {
	for _, a := range nodes {
		for _, b := range nodes {
			if !a.Alive(b.ID()) {
				return false
			}
		}
	}
	return true
}

// settled reports whether every node has a ring of at least epoch and sees
// every transfer of it done.
func settled(nodes []*node.Node, epoch uint64) bool {
	for _, n := range nodes {
		r, ok := n.Ring()
		if !ok || r.Epoch() < epoch {
			return false
		}
		if _, _, done := n.Handoffs(); !done {
			return false
		}
	}
	return true
}

func inRing(r ring.Ring, id string) bool {
	return slices.ContainsFunc(r.Members(), func(m ring.Member) bool { return string(m.ID) == id })
}
