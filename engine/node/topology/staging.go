package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/ring"
)

// Membership changes are staged in a gossiped document, planned (the ring
// they lead to and the transfers it needs) and committed: the transition
// and the new ring are published, and the stage is cleared. One change
// moves data at a time.

// Change is one staged membership change.
type Change struct {
	Kind string `json:"kind"` // "join" or "leave"
	Node string `json:"node"`
}

const (
	docRing       = "ring"
	docStaged     = "staged"
	docTransition = "transition"
	docHandoff    = "handoff/"
)

// Staged returns the staged changes, in the order they were staged.
func (t *Topology) Staged() []Change {
	d, ok := t.doc(docStaged)
	if !ok {
		return nil
	}
	var cs []Change
	_ = json.Unmarshal(d.Data, &cs)
	return cs
}

// resolveMember maps a node ID or one of its addresses to the ID of a node
// gossip knows.
func (t *Topology) resolveMember(s string) (membership.Member, error) {
	for _, m := range t.Members() {
		if m.ID == s || m.Meta.APIAddr == s || m.Meta.PeerAddr == s || "http://"+m.Meta.APIAddr == s {
			return m, nil
		}
	}
	return membership.Member{}, errs.Invalid("node", "no member %q is known to gossip; start it with --join and check `concord cluster status`", s)
}

// StageJoin stages giving a gossip member (named by its ID or one of its
// addresses) a share of the ring.
func (t *Topology) StageJoin(node string) ([]Change, error) {
	m, err := t.resolveMember(node)
	if err != nil {
		return nil, err
	}
	r, _ := t.Ring()
	if inRing(r, m.ID) {
		return nil, errs.Invalid("node", "%s is already in the ring", m.ID)
	}
	if err := t.verifyMember(m); err != nil {
		return nil, err
	}
	return t.stage(Change{Kind: "join", Node: m.ID})
}

// verifyMemberTimeout bounds Config.VerifyMember.
const verifyMemberTimeout = 10 * time.Second

// verifyMember asks Config.VerifyMember, if set, whether m proved it
// belongs to the cluster.
func (t *Topology) verifyMember(m membership.Member) error {
	if t.cfg.VerifyMember == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyMemberTimeout)
	defer cancel()
	if err := t.cfg.VerifyMember(ctx, m.ID, m.Meta.PeerAddr); err != nil {
		return errs.Precondition("%s did not prove it is a member of this cluster: %v", m.ID, err)
	}
	return nil
}

// StageLeave stages handing a ring member's partitions to the others.
func (t *Topology) StageLeave(node string) ([]Change, error) {
	id := node
	if m, err := t.resolveMember(node); err == nil {
		id = m.ID
	}
	r, _ := t.Ring()
	if !inRing(r, id) {
		return nil, errs.Invalid("node", "%s is not in the ring", node)
	}
	if len(r.Members()) == 1 {
		return nil, errs.Invalid("node", "%s is the last node of the ring", id)
	}
	return t.stage(Change{Kind: "leave", Node: id})
}

func inRing(r ring.Ring, id string) bool {
	return slices.ContainsFunc(r.Members(), func(m ring.Member) bool { return string(m.ID) == id })
}

func (t *Topology) stage(c Change) ([]Change, error) {
	cs := slices.DeleteFunc(t.Staged(), func(o Change) bool { return o.Node == c.Node })
	cs = append(cs, c)
	return cs, t.publishNext(docStaged, cs)
}

// ClearStaged drops the staged changes.
func (t *Topology) ClearStaged() error { return t.publishNext(docStaged, []Change{}) }

// Plan computes the ring the staged changes lead to and the transfers it
// needs.
func (t *Topology) Plan() (ring.Ring, []handoff.Transfer, error) {
	cur, ok := t.Ring()
	if !ok {
		return ring.Ring{}, nil, errs.Precondition("this node has no ring yet")
	}
	staged := t.Staged()
	if len(staged) == 0 {
		return ring.Ring{}, nil, errs.Precondition("nothing is staged: stage changes with `concord cluster join` or `leave` first")
	}
	members := cur.Members()
	for _, c := range staged {
		switch c.Kind {
		case "join":
			m, err := t.resolveMember(c.Node)
			if err != nil {
				return ring.Ring{}, nil, err
			}
			members = append(members, ring.Member{ID: ring.NodeID(m.ID), Zone: m.Meta.Zone})
		case "leave":
			members = slices.DeleteFunc(members, func(m ring.Member) bool { return string(m.ID) == c.Node })
		}
	}
	next, err := ring.Rebalance(cur, members, t.cfg.TargetN)
	if err != nil {
		return ring.Ring{}, nil, fmt.Errorf("topology: plan: %w", err)
	}
	return next, handoff.PlanAll(cur, next, t.replicaCounts(cur, next)), nil
}

// Commit applies the staged changes: it publishes the transition and the
// new ring, and clears the stage. It is refused while an earlier ring
// change still moves partitions.
func (t *Topology) Commit() (ring.Ring, []handoff.Transfer, error) {
	if _, _, complete := t.Handoffs(); !complete {
		return ring.Ring{}, nil, errs.Precondition("partitions of the previous ring change are still moving; watch them with `concord cluster status --watch` and commit when they are done")
	}
	next, transfers, err := t.Plan()
	if err != nil {
		return ring.Ring{}, nil, err
	}
	cur, _ := t.Ring()
	prev, err := cur.MarshalBinary()
	if err != nil {
		return ring.Ring{}, nil, err
	}
	counts := t.replicaCounts(cur, next)
	if err := t.publish(docTransition, next.Epoch(), transition{Epoch: next.Epoch(), Prev: prev, N: slices.Max(counts), Ns: counts}); err != nil {
		return ring.Ring{}, nil, err
	}
	if err := t.PublishRing(next); err != nil {
		return ring.Ring{}, nil, err
	}
	return next, transfers, t.ClearStaged()
}

// replicaCounts lists the replica counts in use (every namespace's n and
// the claim's target), each capped at the larger ring's size, sorted.
func (t *Topology) replicaCounts(rings ...ring.Ring) []int {
	size := 1
	for _, r := range rings {
		size = max(size, len(r.Members()))
	}
	counts := []int{min(t.cfg.TargetN, size)}
	if t.cfg.ReplicaCounts != nil {
		for _, n := range t.cfg.ReplicaCounts() {
			counts = append(counts, min(n, size))
		}
	}
	slices.Sort(counts)
	return slices.Compact(counts)
}

// HandoffN is the largest replica count in use on the current ring: the
// partitions a node replicates for some namespace.
func (t *Topology) HandoffN() int {
	r, _ := t.Ring()
	return slices.Max(t.replicaCounts(r))
}
