package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/membership"
)

// Join retry timings: the first attempt a node with a stored ring waits
// for before it serves, and the backoff of the background retries.
const (
	firstJoinTimeout = 10 * time.Second
	rejoinMinBackoff = 500 * time.Millisecond
	rejoinMaxBackoff = 10 * time.Second
	rejoinAttempt    = 30 * time.Second
)

// join contacts the seeds. A node without a ring cannot serve alone, so
// for it no answering seed is an error. A node that has a ring (a restart,
// perhaps of the whole cluster, or during a partition) serves with it and
// keeps trying its seeds and every member it knows in the background until
// another member is alive.
func (n *Node) join(ctx context.Context, seeds []string, hasRing bool) error {
	if len(seeds) == 0 {
		return nil
	}
	if !hasRing {
		if _, err := n.members.Join(ctx, seeds); err != nil {
			return fmt.Errorf("node: join %v: no seed answered, and a node that has never been in a cluster cannot serve alone: %w", seeds, err)
		}
		return nil
	}
	first, cancel := context.WithTimeout(ctx, firstJoinTimeout)
	_, err := n.members.Join(first, seeds)
	cancel()
	if err == nil {
		return nil
	}
	n.log.Warn("no seed answered; serving with the stored ring and retrying in the background", "seeds", seeds, "err", err)
	n.bg.Go(func() { n.rejoin(n.bgCtx, seeds) })
	return nil
}

// rejoin retries joining, with backoff, until another member is alive or
// ctx ends. Each attempt tries the seeds and every member gossip has
// heard of.
func (n *Node) rejoin(ctx context.Context, seeds []string) {
	backoff := rejoinMinBackoff
	timer := time.NewTimer(backoff)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if n.othersAlive() {
			n.log.Info("joined the cluster", "attempts", attempt-1)
			return
		}
		targets := n.joinTargets(seeds)
		actx, cancel := context.WithTimeout(ctx, rejoinAttempt)
		answered, err := n.members.Join(actx, targets)
		cancel()
		if err == nil && answered > 0 {
			n.log.Info("joined the cluster", "attempts", attempt, "answered", answered)
			return
		}
		if ctx.Err() != nil {
			return
		}
		backoff = min(2*backoff, rejoinMaxBackoff)
		n.log.Warn("join retry failed; trying again", "targets", targets, "attempt", attempt, "retry_in", backoff, "err", err)
		timer.Reset(backoff)
	}
}

// othersAlive reports whether gossip sees another member alive.
func (n *Node) othersAlive() bool {
	for _, m := range n.members.Members() {
		if m.ID != n.id && m.State == membership.Alive {
			return true
		}
	}
	return false
}

// joinTargets are the seeds and the gossip addresses of every other member
// this node has heard of, without repeats.
func (n *Node) joinTargets(seeds []string) []string {
	out := slices.Clone(seeds)
	for _, m := range n.members.Members() {
		if m.ID != n.id && m.Addr != "" && !slices.Contains(out, m.Addr) {
			out = append(out, m.Addr)
		}
	}
	return out
}
