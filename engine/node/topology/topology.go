// Package topology is one node's view of where data lives: the ring (kept
// in the node's store and spread as a gossip document), the staged
// membership changes and their plan and commit, the ring change in
// progress (the transition document and each node's handoff progress
// document), and the placement every request is routed by
// ([Topology.Replicas], with the old replicas of partitions still moving
// kept as extra replicas).
//
// It knows cluster membership only through [Gossip], a subset of
// [membership.Membership], so its rules are tested against an in-memory
// fake. A [Topology] with no gossip is a single node that owns every
// partition.
package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
)

// Gossip is what a Topology needs of cluster membership: liveness, the
// members and their metadata, and the metadata documents.
// [*membership.Membership] implements it.
type Gossip interface {
	Alive(id string) bool
	Members() []membership.Member
	Doc(name string) (membership.Doc, bool)
	Docs() []membership.Doc
	Publish(d membership.Doc) error
}

// Config builds a Topology.
type Config struct {
	// Self is this node's ID.
	Self string
	// Store keeps the current ring, so a restarted node serves with it.
	Store storage.Engine
	// Partitions is Q, for the ring a node starting a cluster creates.
	Partitions int
	// TargetN is the replica count the claim keeps on distinct nodes.
	TargetN int
	// Zone is this node's failure domain.
	Zone string
	// Joining is set when the node joins an existing cluster: without a
	// stored ring it waits for the cluster's instead of creating one.
	Joining bool
	// ReplicaCounts returns the replica count (n) of every namespace:
	// transfers are planned for each.
	ReplicaCounts func() []int
	// VerifyMember, if set, must accept a gossip member (its ID and
	// advertised peer address) before StageJoin stages it: the member
	// proves it belongs to the cluster (internal/embed checks its peer
	// certificate). Nil: every gossip member may be staged.
	VerifyMember func(ctx context.Context, id, peerAddr string) error
	// Logger receives the ring's changes.
	Logger *slog.Logger
}

// Topology is a node's ring, placement and ring changes. It is safe for
// concurrent use.
type Topology struct {
	cfg       Config
	placement atomic.Pointer[placement] // nil until the node knows a ring
	gossip    atomic.Pointer[Gossip]    // nil for a single node
	ringMu    sync.Mutex                // serialises ring documents: a ring never moves backwards
	planned   atomic.Pointer[planned]   // the transition document last decoded and planned (transition.go)
	reports   reportCache               // the handoff reports, decoded (transition.go)
}

// Open loads the stored ring or, for a node that is not joining a cluster
// and has none, creates and stores a ring of this node alone.
func Open(cfg Config) (*Topology, error) {
	t := &Topology{cfg: cfg}
	cur, err := t.loadRing()
	if err != nil {
		return nil, err
	}
	if cur == nil && !cfg.Joining {
		r, err := ring.New(cfg.Partitions, []ring.Member{{ID: ring.NodeID(cfg.Self), Zone: cfg.Zone}}, cfg.TargetN)
		if err != nil {
			return nil, fmt.Errorf("topology: create ring: %w", err)
		}
		if err := t.storeRing(r); err != nil {
			return nil, err
		}
		cur = &r
	}
	if cur != nil {
		t.setRing(*cur)
	}
	return t, nil
}

// Attach connects the topology to cluster membership. Call it once, as
// soon as gossip runs.
func (t *Topology) Attach(g Gossip) { t.gossip.Store(&g) }

func (t *Topology) members() Gossip {
	if g := t.gossip.Load(); g != nil {
		return *g
	}
	return nil
}

// Self implements coord.View: this node's ID.
func (t *Topology) Self() string { return t.cfg.Self }

// Alive implements coord.View: whether gossip believes a node is up (this
// node always is; on a single node, no other).
func (t *Topology) Alive(id string) bool {
	if id == t.cfg.Self {
		return true
	}
	g := t.members()
	return g != nil && g.Alive(id)
}

// Members lists the nodes gossip knows, with their state.
func (t *Topology) Members() []membership.Member {
	if g := t.members(); g != nil {
		return g.Members()
	}
	return nil
}

// Ring returns the current ring and whether the node has one yet.
func (t *Topology) Ring() (ring.Ring, bool) {
	pl := t.placement.Load()
	if pl == nil {
		return ring.Ring{}, false
	}
	return pl.ring, true
}

// Docs are the documents of the ring this node holds, for gossip to
// start with.
func (t *Topology) Docs() ([]membership.Doc, error) {
	r, ok := t.Ring()
	if !ok {
		return nil, nil
	}
	d, err := ringDoc(r)
	if err != nil {
		return nil, err
	}
	return []membership.Doc{d}, nil
}

func ringDoc(r ring.Ring) (membership.Doc, error) {
	raw, err := r.MarshalBinary()
	return membership.Doc{Name: docRing, Version: r.Epoch(), Data: raw}, err
}

// PublishRing takes a new ring and spreads it to the cluster (a commit).
// This node serves the new ring when it returns.
func (t *Topology) PublishRing(r ring.Ring) error {
	d, err := ringDoc(r)
	if err != nil {
		return err
	}
	t.OnDoc(d)
	if g := t.members(); g != nil {
		return g.Publish(d)
	}
	return nil
}

// OnDoc takes a document gossip brought (or this node's own commit) and
// reports whether it is one of the topology's: a newer ring is stored and
// installed; a transition or handoff progress document reinstalls the
// ring, whose extra replicas it changes.
func (t *Topology) OnDoc(d membership.Doc) bool {
	switch {
	case d.Name == docRing:
		t.takeRing(d)
	case d.Name == docTransition || hasPrefix(d.Name, docHandoff):
		if r, ok := t.Ring(); ok {
			t.setRing(r)
		}
	default:
		return false
	}
	return true
}

func (t *Topology) takeRing(d membership.Doc) {
	t.ringMu.Lock()
	defer t.ringMu.Unlock()
	var r ring.Ring
	if err := r.UnmarshalBinary(d.Data); err != nil {
		t.cfg.Logger.Error("bad ring document", "err", err)
		return
	}
	if cur, ok := t.Ring(); ok && ring.Compare(r, cur) <= 0 {
		return
	}
	if err := t.storeRing(r); err != nil {
		t.cfg.Logger.Error("store ring", "err", err)
		return
	}
	t.setRing(r)
	t.cfg.Logger.Info("ring updated", "epoch", r.Epoch(), "members", len(r.Members()))
}

// setRing installs a ring, with the old replicas of partitions still
// moving kept as extra replicas until their transfers are done.
func (t *Topology) setRing(r ring.Ring) {
	t.placement.Store(newPlacement(r, nil)) // the transition below reads the ring from here
	prev, cur, _, nrep, ok := t.Transition()
	if !ok || cur.Epoch() != r.Epoch() {
		return
	}
	_, progress, complete := t.Handoffs()
	if complete {
		return
	}
	t.placement.Store(newPlacement(r, extras(prev, cur, nrep, progress)))
}

var ringKey = keys.Meta("ring", "current")

func (t *Topology) loadRing() (*ring.Ring, error) {
	raw, err := t.cfg.Store.Get(ringKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("topology: read ring: %w", err)
	}
	var r ring.Ring
	if err := r.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("topology: decode ring: %w", err)
	}
	return &r, nil
}

func (t *Topology) storeRing(r ring.Ring) error {
	raw, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	var b storage.Batch
	b.Set(ringKey, raw)
	return t.cfg.Store.Apply(&b, storage.WriteOptions{Sync: true})
}

func hasPrefix(s, prefix string) bool { return len(s) > len(prefix) && s[:len(prefix)] == prefix }
