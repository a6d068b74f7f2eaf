package node

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/ring"
)

// Change is one staged membership change.
type Change struct {
	Kind string `json:"kind"` // "join" or "leave"
	Node string `json:"node"`
}

const (
	docStaged     = "staged"
	docTransition = "transition"
	docHandoff    = "handoff/"
)

// transition is the ring change in progress: the ring before the current
// one and the replica count transfers are planned for. Every node derives
// the same plan from it.
type transition struct {
	Epoch uint64 `json:"epoch"` // the current ring's epoch
	Prev  []byte `json:"prev"`  // the previous ring, encoded
	N     int    `json:"n"`     // the largest replica count: what a node must hold
	Ns    []int  `json:"ns"`    // every replica count in use: what transfers cover
}

// Staged returns the staged changes, in the order they were staged.
func (n *Node) Staged() []Change {
	d, ok := n.doc(docStaged)
	if !ok {
		return nil
	}
	var cs []Change
	_ = json.Unmarshal(d.Data, &cs)
	return cs
}

func (n *Node) doc(name string) (membership.Doc, bool) {
	if n.members == nil {
		return membership.Doc{}, false
	}
	return n.members.Doc(name)
}

func (n *Node) publish(name string, v any) error {
	if n.members == nil {
		return errs.Precondition("this node runs without a cluster")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	cur, _ := n.members.Doc(name)
	return n.members.Publish(membership.Doc{Name: name, Version: cur.Version + 1, Data: raw})
}

// resolveMember maps a node ID or one of its addresses to the ID of a node
// gossip knows.
func (n *Node) resolveMember(s string) (membership.Member, error) {
	for _, m := range n.Members() {
		if m.ID == s || m.Meta.APIAddr == s || m.Meta.PeerAddr == s || "http://"+m.Meta.APIAddr == s {
			return m, nil
		}
	}
	return membership.Member{}, errs.Invalid("node", "no member %q is known to gossip; start it with --join and check `concord cluster status`", s)
}

// StageJoin stages giving a gossip member a share of the ring.
func (n *Node) StageJoin(node string) ([]Change, error) {
	m, err := n.resolveMember(node)
	if err != nil {
		return nil, err
	}
	r, _ := n.Ring()
	if slices.ContainsFunc(r.Members(), func(rm ring.Member) bool { return string(rm.ID) == m.ID }) {
		return nil, errs.Invalid("node", "%s is already in the ring", m.ID)
	}
	return n.stage(Change{Kind: "join", Node: m.ID})
}

// StageLeave stages handing a ring member's partitions to the others.
func (n *Node) StageLeave(node string) ([]Change, error) {
	id := node
	if m, err := n.resolveMember(node); err == nil {
		id = m.ID
	}
	r, _ := n.Ring()
	if !slices.ContainsFunc(r.Members(), func(rm ring.Member) bool { return string(rm.ID) == id }) {
		return nil, errs.Invalid("node", "%s is not in the ring", node)
	}
	if len(r.Members()) == 1 {
		return nil, errs.Invalid("node", "%s is the last node of the ring", id)
	}
	return n.stage(Change{Kind: "leave", Node: id})
}

func (n *Node) stage(c Change) ([]Change, error) {
	cs := slices.DeleteFunc(n.Staged(), func(o Change) bool { return o.Node == c.Node })
	cs = append(cs, c)
	return cs, n.publish(docStaged, cs)
}

// ClearStaged drops the staged changes.
func (n *Node) ClearStaged() error { return n.publish(docStaged, []Change{}) }

// Plan computes the ring the staged changes lead to and the transfers it
// needs.
func (n *Node) Plan() (ring.Ring, []handoff.Transfer, error) {
	cur, ok := n.Ring()
	if !ok {
		return ring.Ring{}, nil, errs.Precondition("this node has no ring yet")
	}
	staged := n.Staged()
	if len(staged) == 0 {
		return ring.Ring{}, nil, errs.Precondition("nothing is staged: stage changes with `concord cluster join` or `leave` first")
	}
	members := cur.Members()
	for _, c := range staged {
		switch c.Kind {
		case "join":
			m, err := n.resolveMember(c.Node)
			if err != nil {
				return ring.Ring{}, nil, err
			}
			members = append(members, ring.Member{ID: ring.NodeID(m.ID), Zone: m.Meta.Zone})
		case "leave":
			members = slices.DeleteFunc(members, func(m ring.Member) bool { return string(m.ID) == c.Node })
		}
	}
	next, err := ring.Rebalance(cur, members, targetN(n.cfg.Cluster))
	if err != nil {
		return ring.Ring{}, nil, fmt.Errorf("node: plan: %w", err)
	}
	return next, handoff.PlanAll(cur, next, n.replicaCounts(cur, next)), nil
}

// replicaCounts lists the replica counts in use (every namespace's n and
// the claim's target), each capped at the larger ring's size, sorted.
func (n *Node) replicaCounts(rings ...ring.Ring) []int {
	size := 1
	for _, r := range rings {
		size = max(size, len(r.Members()))
	}
	counts := []int{min(targetN(n.cfg.Cluster), size)}
	for _, ns := range n.meta.List() {
		counts = append(counts, min(int(ns.N), size))
	}
	slices.Sort(counts)
	return slices.Compact(counts)
}

// handoffN is the largest replica count in use on the current ring: the
// partitions a node replicates for some namespace.
func (n *Node) handoffN() int {
	r, _ := n.Ring()
	return slices.Max(n.replicaCounts(r))
}

// Commit applies the staged changes: it publishes the transition and the
// new ring, and clears the stage. It is refused while an earlier ring
// change still moves partitions.
func (n *Node) Commit() (ring.Ring, []handoff.Transfer, error) {
	if _, _, complete := n.Handoffs(); !complete {
		return ring.Ring{}, nil, errs.Precondition("partitions of the previous ring change are still moving; watch them with `concord cluster status --watch` and commit when they are done")
	}
	next, transfers, err := n.Plan()
	if err != nil {
		return ring.Ring{}, nil, err
	}
	cur, _ := n.Ring()
	prev, err := cur.MarshalBinary()
	if err != nil {
		return ring.Ring{}, nil, err
	}
	counts := n.replicaCounts(cur, next)
	if err := n.publishVersioned(docTransition, next.Epoch(), transition{Epoch: next.Epoch(), Prev: prev, N: slices.Max(counts), Ns: counts}); err != nil {
		return ring.Ring{}, nil, err
	}
	if err := n.PublishRing(next); err != nil {
		return ring.Ring{}, nil, err
	}
	return next, transfers, n.ClearStaged()
}

func (n *Node) publishVersioned(name string, version uint64, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return n.members.Publish(membership.Doc{Name: name, Version: version, Data: raw})
}

// currentTransition returns the ring change in progress and its plan, if
// the node knows the ring it leads to.
func (n *Node) currentTransition() (prev, cur ring.Ring, plan []handoff.Transfer, nrep int, ok bool) {
	cur, ok = n.Ring()
	if !ok {
		return
	}
	d, found := n.doc(docTransition)
	if !found {
		return prev, cur, nil, 0, false
	}
	var tr transition
	if json.Unmarshal(d.Data, &tr) != nil || tr.Epoch != cur.Epoch() || prev.UnmarshalBinary(tr.Prev) != nil {
		return prev, cur, nil, 0, false
	}
	if len(tr.Ns) == 0 {
		tr.Ns = []int{tr.N}
	}
	return prev, cur, handoff.PlanAll(prev, cur, tr.Ns), tr.N, true
}

// ringBehind reports whether this node knows of a ring change it has not
// received the ring of yet.
func (n *Node) ringBehind() bool {
	cur, _ := n.Ring()
	d, ok := n.doc(docTransition)
	return ok && d.Version > cur.Epoch()
}

// Handoffs reports the transfers of the current ring change with the
// progress their receivers published, and whether all are done.
func (n *Node) Handoffs() (epoch uint64, progress []handoff.Progress, complete bool) {
	_, cur, plan, _, ok := n.currentTransition()
	if n.ringBehind() {
		return cur.Epoch(), nil, false // a newer ring is on its way: not done
	}
	if !ok {
		return cur.Epoch(), nil, true
	}
	reports := map[string]handoff.Report{}
	for _, d := range n.docsWithPrefix(docHandoff) {
		var r handoff.Report
		if json.Unmarshal(d.Data, &r) == nil && r.Epoch == cur.Epoch() {
			reports[d.Name[len(docHandoff):]] = r
		}
	}
	complete = true
	for _, t := range plan {
		p := handoff.Progress{Partition: t.Partition, From: t.From, To: t.To}
		for _, got := range reports[t.To].Transfers {
			if got.Partition == t.Partition {
				p = got
				p.Cursor = nil
			}
		}
		complete = complete && p.Done
		progress = append(progress, p)
	}
	return cur.Epoch(), progress, complete
}

func (n *Node) docsWithPrefix(prefix string) []membership.Doc {
	if n.members == nil {
		return nil
	}
	var out []membership.Doc
	for _, d := range n.members.Docs() {
		if len(d.Name) > len(prefix) && d.Name[:len(prefix)] == prefix {
			out = append(out, d)
		}
	}
	return out
}
