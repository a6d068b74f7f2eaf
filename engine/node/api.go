package node

import (
	"context"
	"time"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/node/topology"
	"github.com/concord-kv/concord/engine/ring"
)

// The node's public API: each method is one part's (the KV front's, the
// topology's), and the request and answer types are theirs.

type (
	// GetRequest reads a key ([front.GetRequest]).
	GetRequest = front.GetRequest
	// PutRequest writes or deletes a key ([front.PutRequest]).
	PutRequest = front.PutRequest
	// Result is the state of a key after a read or a write ([front.Result]).
	Result = front.Result
	// ListRequest lists the live keys of a namespace ([front.ListRequest]).
	ListRequest = front.ListRequest
	// Change is one staged membership change ([topology.Change]).
	Change = topology.Change
	// RequestKind is what a client request does, as its rate limits see
	// it ([front.RequestKind]).
	RequestKind = front.RequestKind
)

// The kinds of client request ([front.Read], [front.Write], [front.Delete]).
const (
	ReadRequest   = front.Read
	WriteRequest  = front.Write
	DeleteRequest = front.Delete
)

// Get reads a key ([front.Front.Get]). Its latency paces background work
// (package pace).
func (n *Node) Get(ctx context.Context, req GetRequest) (Result, error) {
	start := time.Now()
	defer func() { n.pace.Observe(time.Since(start)) }()
	return n.front.Get(ctx, req)
}

// Put writes (or deletes) a key ([front.Front.Put]). Its latency paces
// background work (package pace).
func (n *Node) Put(ctx context.Context, req PutRequest) (Result, error) {
	start := time.Now()
	defer func() { n.pace.Observe(time.Since(start)) }()
	return n.front.Put(ctx, req)
}

// Refusing returns the error a client request of the namespace would get
// now from its rate limits, without counting it, or nil to let it go on
// through Get or Put ([front.Front.Refusing]).
func (n *Node) Refusing(namespace string, kind RequestKind) error {
	return n.front.Refusing(namespace, kind)
}

// RefusedRecently reports whether a rate limit of this node refused a
// request in the last second ([front.Front.RefusedRecently]).
func (n *Node) RefusedRecently() bool { return n.front.RefusedRecently() }

// ListKeys lists the live keys of a namespace ([front.Front.ListKeys]).
func (n *Node) ListKeys(ctx context.Context, req ListRequest, yield func(key, token []byte) bool) error {
	return n.front.ListKeys(ctx, req, yield)
}

// ID is the node's actor ID.
func (n *Node) ID() string { return n.id }

// Self implements coord.View.
func (n *Node) Self() string { return n.id }

// Replicas implements coord.View ([topology.Topology.Replicas]).
func (n *Node) Replicas(p uint16, replicas int) (pref, fallbacks []string) {
	return n.top.Replicas(p, replicas)
}

// Alive implements coord.View.
func (n *Node) Alive(id string) bool { return n.top.Alive(id) }

// PeerStreaming reports whether this node's hot calls to node id
// (replication, replica reads) ride a peer stream now; when not, it starts
// opening one (engine/peer's stream.go).
func (n *Node) PeerStreaming(id string) bool { return n.peers != nil && n.peers.Streaming(id) }

// PartitionOf returns the partition of a key of a namespace's current
// incarnation.
func (n *Node) PartitionOf(ns string, key []byte) uint16 {
	return n.replica.Partition(n.incs.StorageName(ns), key)
}

// Ring returns the node's current ring and whether it has one yet.
func (n *Node) Ring() (ring.Ring, bool) { return n.top.Ring() }

// Members lists the nodes gossip knows, with their state.
func (n *Node) Members() []membership.Member { return n.top.Members() }

// PeerAddr is the advertised peer address ("" for a single node).
func (n *Node) PeerAddr() string {
	if n.cfg.Cluster == nil {
		return ""
	}
	return n.cfg.Cluster.PeerAddr
}

// GossipAddr is the bound gossip address ("" for a single node).
func (n *Node) GossipAddr() string {
	if n.members == nil {
		return ""
	}
	return n.members.Addr()
}

// Staged returns the staged changes, in the order they were staged.
func (n *Node) Staged() []Change { return n.top.Staged() }

// StageJoin stages giving a gossip member a share of the ring.
func (n *Node) StageJoin(node string) ([]Change, error) { return n.top.StageJoin(node) }

// StageLeave stages handing a ring member's partitions to the others.
func (n *Node) StageLeave(node string) ([]Change, error) { return n.top.StageLeave(node) }

// ClearStaged drops the staged changes.
func (n *Node) ClearStaged() error { return n.top.ClearStaged() }

// Plan computes the ring the staged changes lead to and the transfers it
// needs.
func (n *Node) Plan() (ring.Ring, []handoff.Transfer, error) { return n.top.Plan() }

// Commit applies the staged changes ([topology.Topology.Commit]).
func (n *Node) Commit() (ring.Ring, []handoff.Transfer, error) { return n.top.Commit() }

// PublishRing spreads a new ring to the cluster.
func (n *Node) PublishRing(r ring.Ring) error { return n.top.PublishRing(r) }

// Handoffs reports the transfers of the current ring change with their
// progress, and whether all are done.
func (n *Node) Handoffs() (epoch uint64, progress []handoff.Progress, complete bool) {
	return n.top.Handoffs()
}

// Stats are the node's cluster counters.
type Stats struct {
	HintBacklog      int64 // hints this node keeps for others
	HintsDelivered   int64 // hints delivered since start
	HintedWrites     int64 // writes sent to a fallback (or kept here) as hints
	ReadRepairs      int64 // stale replicas repaired after reads
	ReadHedges       int64 // reads that asked more replicas as those asked first were late
	TombstonesPurged int64 // tombstones removed after every replica held them
	PurgeRounds      int64 // purge checks run
	AAEExchanges     int64 // anti-entropy exchanges run
	AAEKeysRepaired  int64 // keys anti-entropy repaired
	ForwardedWrites  int64 // client writes for keys this node holds no replica of, forwarded
	RemoteReads      int64 // client reads of keys this node holds no replica of
}

// Stats returns the node's cluster counters.
func (n *Node) Stats() Stats {
	st := Stats{
		HintBacklog:      n.replica.HintBacklog(),
		HintedWrites:     n.coord.Stats.HintedWrites.Load(),
		ReadRepairs:      n.coord.Stats.ReadRepairs.Load(),
		ReadHedges:       n.coord.Stats.ReadHedges.Load(),
		TombstonesPurged: n.purger.Purged(),
		PurgeRounds:      n.purger.Rounds(),
	}
	st.ForwardedWrites, st.RemoteReads = n.front.Detours()
	if n.hints != nil {
		st.HintsDelivered = n.hints.Delivered()
	}
	if n.aae != nil {
		m := n.aae.Metrics()
		st.AAEExchanges, st.AAEKeysRepaired = int64(m.Exchanges), int64(m.KeysRepaired)
	}
	return st
}
