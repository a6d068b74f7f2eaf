package ring

import (
	"fmt"
	"math"
)

// New makes the first ring (epoch 1) for q partitions (0 means [DefaultQ])
// and the given members, for replication factor n. It lays the members out
// in a striped order (see the package doc), which satisfies the claim
// properties whenever they can be satisfied at all.
func New(q int, members []Member, n int) (Ring, error) {
	if q == 0 {
		q = DefaultQ
	}
	nodes, err := checkArgs(q, members, n)
	if err != nil {
		return Ring{}, err
	}
	c := newClaim(q, nodes, nil, n)
	c.fresh()
	return grow(c.ring(1), nodes, n), nil
}

// grow builds the first ring by joins: a striped ring of the first n+1
// members, then one join at a time. The result satisfies the same
// properties as the plain stripe, but every node has varied neighbours, so
// that a later leave can hand the leaver's partitions to its neighbours'
// neighbours without moving others. It returns the stripe if a join leaves
// a conflict.
func grow(stripe Ring, nodes []Member, n int) Ring {
	if len(nodes) <= n+1 {
		return stripe
	}
	first := newClaim(stripe.Q(), nodes[:n+1], nil, n)
	first.fresh()
	r := first.ring(1)
	for i := n + 2; i <= len(nodes); i++ {
		c := joinClaim(r, nodes[:i], n)
		c.incremental()
		if nv, zv := c.score(); nv != 0 || zv != 0 {
			return stripe
		}
		r = c.ring(1)
	}
	return r
}

// Rebalance is the claim algorithm: it returns the next version of cur
// (epoch + 1) for a new member set, any mix of joins, leaves and zone
// changes, and replication factor n. It keeps cur's Q. See the package doc
// for the properties of the result. It is deterministic: the same cur,
// members (in any order) and n always give the same ring.
func Rebalance(cur Ring, members []Member, n int) (Ring, error) {
	if err := cur.Validate(); err != nil {
		return Ring{}, fmt.Errorf("%w: current ring: %w", ErrInvalidArgument, err)
	}
	if cur.epoch == math.MaxUint64 {
		return Ring{}, fmt.Errorf("%w: current ring has the last epoch", ErrInvalidArgument)
	}
	nodes, err := checkArgs(cur.Q(), members, n)
	if err != nil {
		return Ring{}, err
	}
	start := joinClaim(cur, nodes, n)
	fallback := start.clone()
	if start.holes() <= start.q/2 {
		inc := start.clone()
		inc.incremental()
		if nv, zv := inc.score(); nv == 0 && zv == 0 {
			return inc.ring(cur.epoch + 1), nil
		}
		fallback.fresh()
		if inc.less(fallback) {
			return inc.ring(cur.epoch + 1), nil
		}
		return fallback.ring(cur.epoch + 1), nil
	}
	// Most of the ring changes hands anyway: lay it out afresh.
	fallback.fresh()
	return fallback.ring(cur.epoch + 1), nil
}

// joinClaim starts a claim for nodes from the assignment of cur.
func joinClaim(cur Ring, nodes []Member, n int) *claim {
	// Map the current owners onto the new member list; -1 marks the
	// partitions of members that leave.
	old := make([]int32, cur.Q())
	next := make([]int32, len(cur.members))
	j := 0
	for i, m := range cur.members {
		for j < len(nodes) && nodes[j].ID < m.ID {
			j++
		}
		next[i] = -1
		if j < len(nodes) && nodes[j].ID == m.ID {
			next[i] = int32(j)
		}
	}
	for p, o := range cur.owners {
		old[p] = next[o]
	}
	return newClaim(cur.Q(), nodes, old, n)
}

// checkArgs validates q, n and the members, and returns the members sorted
// by ID.
func checkArgs(q int, members []Member, n int) ([]Member, error) {
	if q <= 0 || q > MaxQ || q&(q-1) != 0 {
		return nil, fmt.Errorf("%w: Q = %d is not a power of two in [1, %d]", ErrInvalidArgument, q, MaxQ)
	}
	if n < 1 {
		return nil, fmt.Errorf("%w: replication factor n = %d", ErrInvalidArgument, n)
	}
	if err := validateMembers(members, false); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if len(members) > q {
		return nil, fmt.Errorf("%w: %d members for %d partitions", ErrInvalidArgument, len(members), q)
	}
	return sortMembers(members), nil
}
