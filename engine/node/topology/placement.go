package topology

import (
	"slices"

	"github.com/concord-kv/concord/engine/handoff"
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

func newPlacement(r ring.Ring, extras map[int][]string) *placement {
	q := r.Q()
	pl := &placement{ring: r, order: make([][]string, q), extras: extras}
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

// extras are the old replicas of the partitions of a ring change that are
// still moving.
func extras(prev, cur ring.Ring, nrep int, progress []handoff.Progress) map[int][]string {
	moving := map[int]bool{}
	for _, p := range progress {
		if !p.Done {
			moving[p.Partition] = true
		}
	}
	out := map[int][]string{}
	for p, ids := range handoff.Leaving(prev, cur, nrep) {
		if moving[p] {
			out[p] = ids
		}
	}
	return out
}

// Replicas implements coord.View: the preference list of a partition for
// n replicas (with the old replicas of a partition still moving after
// it), and the fallbacks after them in ring order. A node without a ring
// yet places everything on itself.
func (t *Topology) Replicas(p uint16, replicas int) (pref, fallbacks []string) {
	pl := t.placement.Load()
	if pl == nil {
		return []string{t.cfg.Self}, nil
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
