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
	// receiving are the new replicas of those partitions that are still
	// receiving them: they take writes, but come last in the preference
	// list, after the old replicas, so that a read asks replicas that hold
	// the partition's data first (rather than one that would answer
	// "missing" and need read repair), and a forwarded write goes to one
	// of them.
	receiving map[int][]string
}

func newPlacement(r ring.Ring, m moves) *placement {
	q := r.Q()
	pl := &placement{ring: r, order: make([][]string, q), extras: m.extras, receiving: m.receiving}
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

// moves are the partitions of a ring change still moving: their old
// replicas (extras) and the new ones that are receiving them.
type moves struct {
	extras, receiving map[int][]string
}

// movesOf returns the moves of the ring change from prev to cur for nrep
// replicas, whose transfers have made progress.
func movesOf(prev, cur ring.Ring, nrep int, progress []handoff.Progress) moves {
	m := moves{extras: map[int][]string{}, receiving: map[int][]string{}}
	for _, p := range progress {
		if !p.Done && !slices.Contains(m.receiving[p.Partition], p.To) {
			m.receiving[p.Partition] = append(m.receiving[p.Partition], p.To)
		}
	}
	for p, ids := range handoff.Leaving(prev, cur, nrep) {
		if len(m.receiving[p]) > 0 {
			m.extras[p] = ids
		}
	}
	return m
}

// Replicas implements coord.View: the preference list of a partition for
// n replicas (with the old replicas of a partition still moving after
// it, and the new replicas still receiving it last), and the fallbacks
// after them in ring order. A node without a ring yet places everything
// on itself.
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
	extra, receiving := pl.extras[int(p)], pl.receiving[int(p)]
	if len(extra) == 0 && len(receiving) == 0 {
		return pref, fallbacks
	}
	holding := make([]string, 0, len(pref)+len(extra))
	var last []string
	for _, id := range pref {
		if slices.Contains(receiving, id) {
			last = append(last, id)
		} else {
			holding = append(holding, id)
		}
	}
	pref = append(append(holding, extra...), last...)
	var rest []string
	for _, id := range fallbacks {
		if !slices.Contains(extra, id) {
			rest = append(rest, id)
		}
	}
	return pref, rest
}
