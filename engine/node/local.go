package node

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/node/transfer"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage"
)

// The node is the peer.Local of its peer service: each call is one part's.
var _ peer.Local = (*Node)(nil)

// Apply implements peer.Local: it merges replicated objects, or keeps them
// as hints for another owner. Objects of dead namespace incarnations are
// discarded; an unknown incarnation refuses the batch (package
// incarnations).
func (n *Node) Apply(ctx context.Context, objs []peer.Object, sync bool, intendedOwner string) (bool, error) {
	objs, err := n.incs.LiveObjects(objs)
	if err != nil {
		return false, err
	}
	// Many objects are written unsynced and then synced once: one WAL sync
	// for a batch a peer coalesced, not one per object.
	each := sync && len(objs) == 1
	for _, o := range objs {
		var err error
		if intendedOwner != "" && intendedOwner != n.id {
			err = n.replica.StoreHint(intendedOwner, o.Namespace, o.Key, o.Object, each)
		} else {
			// Replication does not resolve: the coordinator already ran the
			// namespace's resolver (or it failed there, and would fail here
			// on the same siblings), and a resolution here would hold up
			// every object after it in the batch, other tenants' included.
			_, err = n.replica.MergeAsIs(o.Namespace, o.Key, o.Object, each)
		}
		if err != nil {
			return false, n.storageFailed("replicate", err)
		}
	}
	if sync && !each {
		if err := n.replica.Sync(); err != nil {
			return false, n.storageFailed("replicate", err)
		}
	}
	return sync, nil
}

// ReadLocal implements peer.Local: this node's replica of a key or, when
// it is not in the key's preference list (it was asked as a fallback), its
// copy merged with the hints it keeps for the key, so a sloppy read counts
// the writes a sloppy quorum left here.
func (n *Node) ReadLocal(_ context.Context, ns string, key []byte) (dvv.Object, error) {
	read := n.replica.Get
	if n.replica.HintBacklog() > 0 && !n.replicates(ns, key) {
		read = n.replica.GetWithHints
	}
	obj, err := read(ns, key)
	if err != nil {
		return dvv.Object{}, n.storageFailed("read", err)
	}
	return obj, nil
}

// replicates reports whether this node is in the preference list of a key
// of a storage namespace (false for a namespace it does not know).
func (n *Node) replicates(storageNS string, key []byte) bool {
	ns, err := n.incs.Namespace(storageNS)
	if err != nil {
		return false
	}
	pref, _ := n.top.Replicas(n.replica.Partition(storageNS, key), int(ns.N))
	return slices.Contains(pref, n.id)
}

// Coordinate implements peer.Local: a write forwarded by another node.
func (n *Node) Coordinate(ctx context.Context, req peer.CoordinateRequest) (dvv.Object, int, error) {
	return n.front.Coordinate(ctx, req)
}

// Tree implements peer.Local.
func (n *Node) Tree(_ context.Context, p uint16) ([]uint64, error) { return n.trees.Tree(p) }

// Segment implements peer.Local.
func (n *Node) Segment(ctx context.Context, p uint16, segments []uint32) ([]peer.Object, error) {
	objs, err := n.trees.Segment(ctx, p, segments)
	if err != nil {
		return nil, n.storageFailed("segment", err)
	}
	return objs, nil
}

// Transfer implements peer.Local: a partition's objects from after a
// cursor, in storage-key order. A whole partition's (a handoff, not a
// listing) goes at this node's handoff rate: the receiver paces what it
// fetches by its own foreground latency, but a joining node may have no
// foreground yet, and the senders' clients are the ones a fast handoff
// slows.
func (n *Node) Transfer(ctx context.Context, req peer.TransferRequest, send func(peer.Object, uint64) error) error {
	if req.Namespace == "" {
		lim := n.handoffLimiter()
		next := send
		send = func(o peer.Object, remaining uint64) error {
			if err := lim.Wait(ctx, 1); err != nil {
				return err
			}
			return next(o, remaining)
		}
	}
	err := transfer.Serve(ctx, n.eng, n.cfg.Partitions, req, send)
	if errors.Is(err, transfer.ErrStorage) {
		return n.storageFailed("transfer", err)
	}
	return err
}

// Purge implements peer.Local: it removes the objects whose local copies
// are exactly these.
func (n *Node) Purge(_ context.Context, objs []peer.Object) (int, error) {
	purged, err := n.purger.Purge(objs)
	if err != nil {
		return purged, n.storageFailed("purge", err)
	}
	return purged, nil
}

// FetchModule implements peer.Local.
func (n *Node) FetchModule(_ context.Context, hash string) ([]byte, error) {
	wasm, err := n.registry.Module(hash)
	if err != nil {
		return nil, n.storageFailed("fetch module", err)
	}
	return wasm, nil
}

// merge folds an object a background repair brought (anti-entropy,
// handoff) into the local replica, resolving its siblings in an on_write
// namespace: the namespace's resolver is made ready first, outside the
// key's lock, where the merge hook (mergeResolver) may run it.
func (n *Node) merge(ctx context.Context, o peer.Object, sync bool) error {
	if ns, err := n.incs.Namespace(o.Namespace); err == nil && ns.Resolver != nil && ns.Resolver.Mode == meta.ModeOnWrite {
		_ = n.registry.Prepare(ctx, ns) // a failure keeps the siblings; the hook counts it
	}
	_, err := n.replica.Merge(o.Namespace, o.Key, o.Object, sync)
	return err
}

// mergeResolver is the replica store's hook at merge points (replication,
// read repair, anti-entropy, handoff): on_write namespaces resolve there
// too, with a module made ready before the lock (merge, the front's Get).
// A resolution that writes a new version issues a dot, under an actor
// chosen like a coordinator's (package actor) from the local copy cur.
func (n *Node) mergeResolver(storageNS string, key []byte, cur, merged dvv.Object, synced bool) dvv.Object {
	ns, err := n.incs.Namespace(storageNS)
	if err != nil || ns.Resolver == nil || ns.Resolver.Mode != meta.ModeOnWrite {
		return merged
	}
	sib, ok := n.registry.Resolve(n.bgCtx, ns, key, merged, ns.Resolver.WriteDeadline)
	if !ok {
		return merged
	}
	actor, err := n.actors.Pick(n.replica.Partition(storageNS, key), cur, merged.Context(), synced)
	if err != nil {
		n.log.Warn("resolve at merge: no actor; siblings kept", "err", err)
		return merged
	}
	return merged.Resolve(actor, sib)
}

// deleteRanges deletes data ranges (a dropped namespace, a handed-off
// partition) and takes their keys out of the trees first. The node forgets
// what it wrote there, so the partitions' actor floors rise in the same
// batch (package actor).
func (n *Node) deleteRanges(ranges [][2][]byte) error {
	n.rangeMu.Lock() // two deletions of one range would take its keys out of the trees twice
	defer n.rangeMu.Unlock()
	var b storage.Batch
	var parts []uint16 // partitions that lose data: only they forget
	for _, r := range ranges {
		if len(r[0]) == 3 { // a whole partition (a handoff): it forgets even if a write races the scan
			parts = append(parts, binary.BigEndian.Uint16(r[0][1:3]))
		}
		forgot, err := n.trees.Forget(r[0], r[1])
		if err != nil {
			return err
		}
		for _, p := range forgot {
			if len(parts) == 0 || parts[len(parts)-1] != p {
				parts = append(parts, p)
			}
		}
		b.DeleteRange(r[0], r[1])
	}
	// The replica store takes what the ranges held out of its usage
	// figures.
	return n.replica.DropRanges(ranges, func() error { return n.actors.DeleteForgetting(&b, parts) })
}

func (n *Node) storageFailed(op string, err error) error { return front.StorageFailed(n.log, op, err) }

// aaeLocal is the local replica as anti-entropy writes to it.
type aaeLocal struct{ n *Node }

func (l aaeLocal) Live(ns string) bool { return l.n.incs.Live(ns) }

func (l aaeLocal) Merge(ctx context.Context, o peer.Object) error { return l.n.merge(ctx, o, false) }

// handoffLocal is the local replica as a handoff fills and empties it.
type handoffLocal struct{ n *Node }

func (h handoffLocal) Receive(ctx context.Context, o peer.Object) error {
	live, err := h.n.incs.LiveObjects([]peer.Object{o})
	if err != nil || len(live) == 0 {
		return err
	}
	return h.n.merge(ctx, o, false)
}

func (h handoffLocal) DropPartitions(parts []int) error {
	var ranges [][2][]byte
	for _, p := range parts {
		lo, hi := keys.PartitionRange(uint16(p))
		ranges = append(ranges, [2][]byte{lo, hi})
	}
	return h.n.deleteRanges(ranges)
}

// streamPeers are the peer client's transfers as package transfer reads
// them.
type streamPeers struct{ *peer.Client }

func (p streamPeers) Transfer(ctx context.Context, from string, req peer.TransferRequest) transfer.Stream {
	return p.Client.Transfer(ctx, from, req)
}

// noPeers is the coord.Peers of a node without a cluster: it reaches nobody.
type noPeers struct{}

func (noPeers) Replicate(context.Context, string, coord.Replication) (bool, error) {
	return false, errNoCluster
}

func (noPeers) Read(context.Context, string, string, []byte) (dvv.Object, error) {
	return dvv.Object{}, errNoCluster
}

var errNoCluster = errors.New("node: not part of a cluster")

// coordPeers is the coord.Peers of a node in a cluster: the coordinator's
// calls over the peer client. coord declares them in its own types, so
// that it knows nothing of the wire; this is the one place that joins the
// two.
type coordPeers struct{ *peer.Client }

func (p coordPeers) Replicate(ctx context.Context, to string, r coord.Replication) (bool, error) {
	return p.Client.Replicate(ctx, to, []peer.Object{{Namespace: r.Namespace, Key: r.Key, Object: r.Object}}, r.Sync, r.IntendedOwner)
}

func (p coordPeers) ReplicateAsync(ctx context.Context, to string, r coord.Replication, done func(durable bool, err error)) {
	p.Client.ReplicateAsync(ctx, to, []peer.Object{{Namespace: r.Namespace, Key: r.Key, Object: r.Object}}, r.Sync, r.IntendedOwner, done)
}
