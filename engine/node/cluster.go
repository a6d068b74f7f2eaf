package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
)

// ClusterConfig makes a node one member of a cluster. The caller owns the
// peer listener (it serves peer.NewHandler(node)) and tells the node where
// it is reachable.
type ClusterConfig struct {
	// PeerAddr is where other nodes reach this node's peer service (host:port).
	PeerAddr string
	// APIAddr is the client API address this node advertises.
	APIAddr string
	// GossipAddr is the host:port memberlist binds; port 0 picks one.
	GossipAddr string
	// Join lists gossip addresses of existing members. Empty: this node
	// starts a new cluster and owns every partition.
	Join []string
	// Zone is the failure domain (rack, availability zone).
	Zone string
	// AdvertiseHost is the host other nodes dial for gossip when it is not
	// the bound one (a node listening on all interfaces).
	AdvertiseHost string
	// TargetN is the replica count the claim keeps on distinct nodes (and
	// zones). Default 3.
	TargetN int
	// HintInterval is how often hints are offered to their owners. Default 1s.
	HintInterval time.Duration
	// HandoffInterval is how often the node checks for partitions to fetch
	// after a ring change. Default 500ms.
	HandoffInterval time.Duration
	// AAEInterval is the pause between two anti-entropy exchanges (one
	// partition each). Default 100ms: every partition every Q/10 seconds.
	AAEInterval time.Duration
	// AAEKeysPerSecond caps the keys anti-entropy repairs per second.
	// Default 5000.
	AAEKeysPerSecond int
	// PurgeInterval is how often old tombstones are checked for purging.
	// Default 30s.
	PurgeInterval time.Duration
	// TombstoneGrace is how long a tombstone is kept at least, even when
	// every replica holds it. It must outlast hint delivery: Open warns
	// when it is not longer than HintInterval. Default 1h.
	TombstoneGrace time.Duration
	// JoinTimeout bounds how long Open waits for a seed to answer when
	// the node joins a cluster. Default 30s.
	JoinTimeout time.Duration
	// FastGossip uses memberlist's local-network timings (tests, dev).
	FastGossip bool
	// GossipTransport replaces memberlist's network transport (tests).
	GossipTransport memberlist.Transport
	// PeerHTTP is the HTTP client for peer calls; default an h2c client.
	PeerHTTP peer.HTTPClient
}

const (
	docRing     = "ring"
	docNSPrefix = "ns/"
)

// startCluster loads or creates the ring and starts gossip and hint delivery.
func (n *Node) startCluster(ctx context.Context) error {
	cc := n.cfg.Cluster
	cur, err := n.loadRing()
	if err != nil {
		return err
	}
	if cur == nil && (cc == nil || len(cc.Join) == 0) {
		r, err := ring.New(n.cfg.Partitions, []ring.Member{{ID: ring.NodeID(n.id), Zone: zoneOf(cc)}}, targetN(cc))
		if err != nil {
			return fmt.Errorf("node: create ring: %w", err)
		}
		if err := n.storeRing(r); err != nil {
			return err
		}
		cur = &r
	}
	if cur != nil {
		n.setRing(*cur)
	}
	n.meta.OnChange(n.publishNamespace)
	if cc == nil {
		return nil
	}
	httpClient := cc.PeerHTTP
	if httpClient == nil {
		httpClient = peer.NewH2CClient(nil)
	}
	n.peers = peer.NewClient(n.id, httpClient, n.peerAddr)

	docs, err := n.localDocs()
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(cc.GossipAddr)
	if err != nil {
		return err
	}
	ml, err := membership.New(membership.Config{
		NodeID:        n.id,
		BindAddr:      host,
		AdvertiseAddr: cc.AdvertiseHost,
		BindPort:      port,
		Meta:          membership.Meta{PeerAddr: cc.PeerAddr, APIAddr: cc.APIAddr, Zone: cc.Zone},
		Transport:     cc.GossipTransport,
		Docs:          docs,
		OnDoc:         n.onDoc,
		Logger:        n.log.With("component", "gossip"),
		Local:         cc.FastGossip,
	})
	if err != nil {
		return fmt.Errorf("node: start gossip: %w", err)
	}
	n.members = ml
	if err := n.join(ctx, cc.Join, cur != nil); err != nil {
		return err
	}
	n.bg.Go(func() { every(n.bgCtx, cc.HintInterval, n.deliverHints) })
	n.bg.Go(func() { every(n.bgCtx, cc.HandoffInterval, n.runHandoffs) })
	if err := n.startAAE(cc.AAEInterval); err != nil {
		return err
	}
	n.bg.Go(func() {
		every(n.bgCtx, cc.PurgeInterval, func(ctx context.Context) { n.purge(ctx, cc.TombstoneGrace) })
	})
	return nil
}

func targetN(cc *ClusterConfig) int {
	if cc == nil || cc.TargetN == 0 {
		return DefaultTargetN
	}
	return cc.TargetN
}

func zoneOf(cc *ClusterConfig) string {
	if cc == nil {
		return ""
	}
	return cc.Zone
}

func splitHostPort(addr string) (string, int, error) {
	if addr == "" {
		return "127.0.0.1", 0, nil
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("node: gossip address %q is not host:port", addr)
	}
	var port int
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("node: gossip address %q has a bad port", addr)
	}
	return strings.Trim(addr[:i], "[]"), port, nil
}

// Ring returns the node's current ring and whether it has one yet.
func (n *Node) Ring() (ring.Ring, bool) {
	pl := n.placement.Load()
	if pl == nil {
		return ring.Ring{}, false
	}
	return pl.ring, true
}

// setRing installs a ring, with the old replicas of partitions still moving
// kept as extra replicas until their transfers are done.
func (n *Node) setRing(r ring.Ring) {
	pl := newPlacement(r)
	n.placement.Store(pl) // the transition below reads the ring from here
	prev, cur, _, nrep, ok := n.currentTransition()
	if !ok || cur.Epoch() != r.Epoch() {
		return
	}
	_, progress, complete := n.Handoffs()
	if complete {
		return
	}
	pl = newPlacement(r) // a fresh value: the stored one is shared already
	moving := map[int]bool{}
	for _, p := range progress {
		if !p.Done {
			moving[p.Partition] = true
		}
	}
	pl.extras = map[int][]string{}
	for p, ids := range handoff.Leaving(prev, cur, nrep) {
		if moving[p] {
			pl.extras[p] = ids
		}
	}
	n.placement.Store(pl)
}

func (n *Node) loadRing() (*ring.Ring, error) {
	raw, err := n.eng.Get(keys.Meta("ring", "current"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: read ring: %w", err)
	}
	var r ring.Ring
	if err := r.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("node: decode ring: %w", err)
	}
	return &r, nil
}

func (n *Node) storeRing(r ring.Ring) error {
	raw, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	var b storage.Batch
	b.Set(keys.Meta("ring", "current"), raw)
	return n.eng.Apply(&b, storage.WriteOptions{Sync: true})
}

// localDocs are the cluster-metadata documents this node holds.
func (n *Node) localDocs() ([]membership.Doc, error) {
	var docs []membership.Doc
	if pl := n.placement.Load(); pl != nil {
		raw, err := pl.ring.MarshalBinary()
		if err != nil {
			return nil, err
		}
		docs = append(docs, membership.Doc{Name: docRing, Version: pl.ring.Epoch(), Data: raw})
	}
	for _, ns := range n.meta.All() {
		raw, err := meta.Encode(ns)
		if err != nil {
			return nil, err
		}
		docs = append(docs, membership.Doc{Name: docNSPrefix + ns.Name, Version: ns.Version, Data: raw})
	}
	return append(docs, n.sealDocs()...), nil
}

// PublishRing spreads a new ring to the cluster (cluster commit).
func (n *Node) PublishRing(r ring.Ring) error {
	raw, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	d := membership.Doc{Name: docRing, Version: r.Epoch(), Data: raw}
	n.onDoc(d) // take it here first, so this node serves the new ring on return
	if n.members == nil {
		return nil
	}
	return n.members.Publish(d)
}

func (n *Node) publishNamespace(ns meta.Namespace) {
	n.dropDeadIncarnations() // a delete, or a create over data of a deleted incarnation
	raw, err := meta.Encode(ns)
	if err == nil && n.members != nil {
		err = n.members.Publish(membership.Doc{Name: docNSPrefix + ns.Name, Version: ns.Version, Data: raw})
	}
	if err != nil {
		n.log.Error("publish namespace", "namespace", ns.Name, "err", err)
	}
}

// onDoc takes a newer cluster-metadata document from gossip (or from this
// node's own commit). Calls are serialised so a ring never moves backwards.
func (n *Node) onDoc(d membership.Doc) {
	n.docMu.Lock()
	defer n.docMu.Unlock()
	switch {
	case d.Name == docRing:
		var r ring.Ring
		if err := r.UnmarshalBinary(d.Data); err != nil {
			n.log.Error("bad ring document", "err", err)
			return
		}
		if cur, ok := n.Ring(); ok && ring.Compare(r, cur) <= 0 {
			return
		}
		if err := n.storeRing(r); err != nil {
			n.log.Error("store ring", "err", err)
			return
		}
		n.setRing(r)
		n.log.Info("ring updated", "epoch", r.Epoch(), "members", len(r.Members()))
	case d.Name == docTransition || strings.HasPrefix(d.Name, docHandoff):
		if r, ok := n.Ring(); ok {
			n.setRing(r)
		}
	case strings.HasPrefix(d.Name, docSealPrefix):
		n.learnSealKey(d)
	case strings.HasPrefix(d.Name, docNSPrefix):
		ns, err := meta.Decode(d.Data)
		if err != nil {
			n.log.Error("bad namespace document", "doc", d.Name, "err", err)
			return
		}
		changed, err := n.meta.Apply(ns)
		if err != nil {
			n.log.Error("store namespace", "namespace", ns.Name, "err", err)
		}
		if changed {
			// Whatever came before this version (a delete, or nothing
			// this node saw), incarnations other than this one are dead.
			n.dropDeadIncarnations()
		}
	}
}

// peerAddr resolves a node ID to its peer address through gossip.
func (n *Node) peerAddr(id string) (string, bool) {
	if n.members == nil {
		return "", false
	}
	m, ok := n.members.Member(id)
	if !ok || m.Meta.PeerAddr == "" {
		return "", false
	}
	return m.Meta.PeerAddr, true
}

// every runs round each interval until ctx ends: the node's background
// loops (hint delivery, handoff, purge).
func every(ctx context.Context, interval time.Duration, round func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			round(ctx)
		}
	}
}

// deliverHints offers the hints this node keeps to their owners that are
// alive again, and drops the delivered ones.
func (n *Node) deliverHints(ctx context.Context) {
	if n.replica.HintBacklog() == 0 {
		return
	}
	r, ok := n.Ring()
	if !ok {
		return
	}
	for _, m := range r.Members() {
		owner := string(m.ID)
		if owner != n.id && n.Alive(owner) {
			n.deliverHintsTo(ctx, owner)
		}
	}
}

func (n *Node) deliverHintsTo(ctx context.Context, owner string) {
	for ctx.Err() == nil {
		hints, err := n.replica.Hints(owner, 256)
		if err != nil || len(hints) == 0 {
			return
		}
		objs := make([]peer.Object, len(hints))
		for i, h := range hints {
			objs[i] = peer.Object{Namespace: h.Namespace, Key: h.Key, Object: h.Object}
		}
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = n.peers.Replicate(callCtx, owner, objs, true, "")
		cancel()
		if err != nil {
			n.log.Debug("hint delivery failed", "owner", owner, "err", err)
			return
		}
		for _, h := range hints {
			if err := n.replica.DropHint(h); err != nil {
				n.log.Warn("drop delivered hint", "err", err)
				return
			}
		}
		n.hintsDelivered.Add(int64(len(hints)))
	}
}

// Apply implements peer.Local: it merges replicated objects, or keeps them
// as hints for another owner. Objects of dead namespace incarnations are
// discarded; an unknown incarnation refuses the batch (incarnation.go).
func (n *Node) Apply(_ context.Context, objs []peer.Object, sync bool, intendedOwner string) (bool, error) {
	objs, err := n.liveObjects(objs)
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		var err error
		if intendedOwner != "" && intendedOwner != n.id {
			err = n.replica.StoreHint(intendedOwner, o.Namespace, o.Key, o.Object, sync)
		} else {
			_, err = n.replica.Merge(o.Namespace, o.Key, o.Object, sync)
		}
		if err != nil {
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

// Coordinate implements peer.Local: a write forwarded by another node.
func (n *Node) Coordinate(ctx context.Context, req peer.CoordinateRequest) (dvv.Object, int, error) {
	res, err := n.put(ctx, PutRequest{
		Namespace: req.Namespace, Key: req.Key, Value: req.Value, Context: req.Context,
		W: req.W, DW: req.DW, IfAbsent: req.IfAbsent, IfContextCurrent: req.IfContextCurrent,
		Tombstone: req.Tombstone, Force: req.Force,
	}, req.Hops+1)
	return res.Object, res.Replies, err
}

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

// Members lists the nodes gossip knows, with their state.
func (n *Node) Members() []membership.Member {
	if n.members == nil {
		return nil
	}
	return n.members.Members()
}

// Stats are the node's cluster counters.
type Stats struct {
	HintBacklog      int64 // hints this node keeps for others
	HintsDelivered   int64 // hints delivered since start
	HintedWrites     int64 // writes sent to a fallback (or kept here) as hints
	ReadRepairs      int64 // stale replicas repaired after reads
	TombstonesPurged int64 // tombstones removed after every replica held them
	PurgeRounds      int64 // purge checks run
	AAEExchanges     int64 // anti-entropy exchanges run
	AAEKeysRepaired  int64 // keys anti-entropy repaired
}

// Stats returns the node's cluster counters.
func (n *Node) Stats() Stats {
	st := Stats{
		HintBacklog:      n.replica.HintBacklog(),
		HintsDelivered:   n.hintsDelivered.Load(),
		HintedWrites:     n.coord.Stats.HintedWrites.Load(),
		ReadRepairs:      n.coord.Stats.ReadRepairs.Load(),
		TombstonesPurged: n.tombstonesPurged.Load(),
		PurgeRounds:      n.purgeRounds.Load(),
	}
	if n.aae != nil {
		m := n.aae.Metrics()
		st.AAEExchanges, st.AAEKeysRepaired = int64(m.Exchanges), int64(m.KeysRepaired)
	}
	return st
}

// PartitionOf returns the partition of a key of a namespace's current
// incarnation.
func (n *Node) PartitionOf(ns string, key []byte) uint16 {
	return n.replica.Partition(n.storageName(ns), key)
}
