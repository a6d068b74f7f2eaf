package node

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/resolvers"
)

// The namespaces' numbers (package nsstats): the server counts client
// requests, reads and rejections in [Node.Numbers]; the coordinator,
// anti-entropy and the resolver registry count repairs and resolution
// times through the hooks below; [Node.NamespaceStats] adds what the other
// parts know, and [Node.ClusterNamespaceStats] asks every node.

// Numbers is where this node counts its namespaces' numbers.
func (n *Node) Numbers() *nsstats.Keeper { return n.numbers }

// namespaceExists reports whether a namespace exists (the keeper counts
// only those).
func (n *Node) namespaceExists(name string) bool {
	_, err := n.meta.Get(name)
	return err == nil
}

// readRepaired counts a read repair of a key of a storage namespace.
func (n *Node) readRepaired(storageNS string) { n.keysRepaired(storageNS, 1) }

// keysRepaired counts keys of a storage namespace that were repaired.
func (n *Node) keysRepaired(storageNS string, keys int) {
	if name, _, err := meta.ParseStorageName(storageNS); err == nil {
		n.numbers.Repaired(name, keys)
	}
}

// NamespaceStats implements peer.Local: this node's numbers of a
// namespace, histograms included; errs.ErrNamespaceNotFound if there is
// none.
func (n *Node) NamespaceStats(_ context.Context, name string) (nsstats.Stats, error) {
	ns, err := n.meta.Get(name)
	if err != nil {
		return nsstats.Stats{}, err
	}
	return n.namespaceStats(ns, n.resolverStats()), nil
}

// AllNamespaceStats returns this node's numbers of every namespace (as
// NamespaceStats), by name, and forgets those of deleted namespaces.
func (n *Node) AllNamespaceStats() []nsstats.Stats {
	n.numbers.Retain(n.namespaceExists)
	res := n.resolverStats()
	nss := n.meta.List()
	out := make([]nsstats.Stats, len(nss))
	for i, ns := range nss {
		out[i] = n.namespaceStats(ns, res)
	}
	return out
}

// resolverStats are the resolver pools' counters, by namespace.
func (n *Node) resolverStats() map[string]resolvers.Stats {
	out := map[string]resolvers.Stats{}
	for _, s := range n.registry.Stats() {
		out[s.Namespace] = s.Stats
	}
	return out
}

// namespaceStats assembles a namespace's numbers: the keeper's, the
// resolver pool's, the hints kept of it and what the replica stores of it
// (package usage's local figures: every replica held here).
func (n *Node) namespaceStats(ns meta.Namespace, pools map[string]resolvers.Stats) nsstats.Stats {
	st := n.numbers.Snapshot(ns.Name)
	st.Node = n.id
	st.Resolver.Breaker = nsstats.BreakerClosed
	if p, ok := pools[ns.Name]; ok {
		st.Resolver.Calls, st.Resolver.CPU, st.Resolver.Breaker = p.Calls, p.CPU, breakerName(p.Breaker)
		for kind, c := range p.Failures {
			if c > 0 {
				if st.Resolver.Failures == nil {
					st.Resolver.Failures = map[string]uint64{}
				}
				st.Resolver.Failures[failureKind(kind)] += c
			}
		}
	}
	st.Hints = uint64(max(n.replica.HintBacklogOf(ns.StorageName()), 0))
	u := n.replica.Usage(ns.StorageName())
	st.StoredKeys, st.StoredBytes = uint64(max(u.Keys, 0)), uint64(max(u.Bytes, 0))
	return st
}

// failureKinds map the resolver runtime's kinds of failed calls onto the
// admin API's: trap, deadline, memory, canceled, abi, budget. A kind not
// listed keeps its own name.
var failureKinds = map[string]string{
	"trap": "trap", "exit": "trap", "init": "trap",
	"timeout": "deadline", "not_run": "deadline",
	"instantiate": "memory",
	"canceled":    "canceled",
	"bad_status":  "abi", "bad_output": "abi", "guest_error": "abi",
	"budget": "budget",
}

func failureKind(k resolvers.ErrorKind) string {
	name := k.String()
	return cmp.Or(failureKinds[name], name)
}

func breakerName(s resolvers.BreakerState) string {
	switch s {
	case resolvers.BreakerOpen:
		return nsstats.BreakerOpen
	case resolvers.BreakerHalfOpen:
		return nsstats.BreakerHalfOpen
	}
	return nsstats.BreakerClosed
}

// StatsTimeout bounds how long [Node.ClusterNamespaceStats] waits for a
// node's answer.
const StatsTimeout = 2 * time.Second

// ClusterStats are a namespace's numbers across the cluster.
type ClusterStats struct {
	// Total adds up the nodes' ([nsstats.Total]).
	Total nsstats.Stats
	// Nodes are the numbers of each node that answered, by ID, without
	// histograms.
	Nodes []nsstats.Stats
	// Missing are the nodes whose numbers are not in Total: members gossip
	// sees alive that did not answer within StatsTimeout (or do not know
	// the namespace yet), and ring members it does not see alive. By ID.
	Missing []string
}

// ClusterNamespaceStats asks every alive member (this node included) for
// its numbers of a namespace, concurrently, each within [StatsTimeout],
// and adds them up (stored figures divided by the copies of each key).
// errs.ErrNamespaceNotFound if this node knows no such namespace.
func (n *Node) ClusterNamespaceStats(ctx context.Context, name string) (ClusterStats, error) {
	ns, err := n.meta.Get(name)
	if err != nil {
		return ClusterStats{}, err
	}
	self := n.namespaceStats(ns, n.resolverStats())
	ask, missing := n.statsPeers()
	answers := make([]nsstats.Stats, len(ask))
	failed := make([]bool, len(ask))
	var wg sync.WaitGroup
	for i, id := range ask {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, StatsTimeout)
			defer cancel()
			var err error
			answers[i], err = n.peers.NamespaceStats(cctx, id, name)
			failed[i] = err != nil
		})
	}
	wg.Wait()
	out := ClusterStats{Nodes: []nsstats.Stats{withoutHistograms(self)}, Missing: missing}
	for i, id := range ask {
		if failed[i] {
			out.Missing = append(out.Missing, id)
			continue
		}
		out.Nodes = append(out.Nodes, answers[i])
	}
	slices.SortFunc(out.Nodes, func(a, b nsstats.Stats) int { return cmp.Compare(a.Node, b.Node) })
	slices.Sort(out.Missing)
	out.Total = nsstats.Total(out.Nodes, n.copies(ns))
	out.Total.Namespace = name
	return out, nil
}

// copies is how many replicas each key of ns has: its n, or fewer when
// the ring has fewer members (as the usage estimate counts them).
func (n *Node) copies(ns meta.Namespace) int {
	members := 1
	if r, ok := n.top.Ring(); ok {
		members = max(len(r.Members()), 1)
	}
	return min(int(ns.N), members)
}

// statsPeers returns the other nodes to ask for their numbers (gossip
// members alive) and those that cannot be asked (ring members not alive).
func (n *Node) statsPeers() (ask, down []string) {
	if n.peers == nil {
		return nil, nil
	}
	seen := map[string]bool{n.id: true}
	for _, m := range n.top.Members() {
		if !seen[m.ID] && n.top.Alive(m.ID) {
			seen[m.ID] = true
			ask = append(ask, m.ID)
		}
	}
	if r, ok := n.top.Ring(); ok {
		for _, m := range r.Members() {
			if id := string(m.ID); !seen[id] {
				seen[id] = true
				down = append(down, id)
			}
		}
	}
	return ask, down
}

// withoutHistograms drops what only this node's exporters read.
func withoutHistograms(s nsstats.Stats) nsstats.Stats {
	s.Operations = slices.Clone(s.Operations)
	for i := range s.Operations {
		s.Operations[i].Latency = nsstats.Buckets{}
	}
	s.Resolver.Latency = nsstats.Buckets{}
	return s
}

// StorageMetrics returns the Pebble store's metrics; false for a node
// without one (in memory) or whose store is closed.
func (n *Node) StorageMetrics() (pebble.Metrics, bool) {
	p, ok := n.eng.(interface {
		Metrics() (pebble.Metrics, error)
	})
	if !ok {
		return pebble.Metrics{}, false
	}
	m, err := p.Metrics()
	return m, err == nil
}
