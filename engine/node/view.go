package node

import (
	"slices"

	"github.com/concord-kv/concord/engine/ring"
)

// placement is the replica order of every partition for one ring: for
// partition p, every node in the order a walk from p meets it. The first n
// are p's preference list for n replicas, the rest its fallbacks.
type placement struct {
	ring  ring.Ring
	order [][]string
	// extras are old replicas of partitions still being handed off: they
	// keep taking writes and answering reads until the transfer is done.
	extras map[int][]string
}

func newPlacement(r ring.Ring) *placement {
	q := r.Q()
	pl := &placement{ring: r, order: make([][]string, q)}
	members := len(r.Members())
	for p := range q {
		ids := r.PreferenceList(p, members)
		order := make([]string, len(ids))
		for i, id := range ids {
			order[i] = string(id)
		}
		pl.order[p] = order
	}
	return pl
}

// Self implements coord.View.
func (n *Node) Self() string { return n.id }

// Replicas implements coord.View.
func (n *Node) Replicas(p uint16, replicas int) (pref, fallbacks []string) {
	pl := n.placement.Load()
	if pl == nil {
		return []string{n.id}, nil
	}
	order := pl.order[int(p)%len(pl.order)]
	if replicas > len(order) {
		replicas = len(order)
	}
	pref, fallbacks = order[:replicas:replicas], order[replicas:]
	extra := pl.extras[int(p)]
	if len(extra) == 0 {
		return pref, fallbacks
	}
	pref = append(pref, extra...)
	var rest []string
	for _, id := range fallbacks {
		if !slices.Contains(extra, id) {
			rest = append(rest, id)
		}
	}
	return pref, rest
}

// Alive implements coord.View.
func (n *Node) Alive(id string) bool {
	if id == n.id {
		return true
	}
	if n.members == nil {
		return false
	}
	return n.members.Alive(id)
}
