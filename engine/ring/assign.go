package ring

import (
	"cmp"
	"slices"
)

// claim is the working state of one run of the claim algorithm. Nodes are
// indices into the sorted member list; owner -1 marks a partition whose
// owner left and that has no new owner yet.
type claim struct {
	q      int
	nodes  []Member
	zone   []int   // zone index of each node
	owner  []int32 // current assignment
	old    []int32 // assignment of the previous ring (-1: departed or none)
	count  []int   // partitions owned per node
	target []int   // base or hi per node; exactly q%k nodes have hi
	base   int     // q / k
	hi     int     // base+1 if k does not divide q, else base
	wn     int     // window in which owners must be distinct
	wz     int     // window in which zones must be distinct; 0: zones ignored
}

func newClaim(q int, nodes []Member, old []int32, n int) *claim {
	k := len(nodes)
	c := &claim{
		q:      q,
		nodes:  nodes,
		zone:   make([]int, k),
		owner:  make([]int32, q),
		old:    make([]int32, q),
		count:  make([]int, k),
		target: make([]int, k),
		base:   q / k,
		hi:     q / k,
		wn:     nodeWindow(q, k, n),
	}
	if q%k != 0 {
		c.hi++
	}
	zones := make([]string, 0, k)
	for _, m := range nodes {
		zones = append(zones, m.Zone)
	}
	slices.Sort(zones)
	zones = slices.Compact(zones)
	for i, m := range nodes {
		c.zone[i], _ = slices.BinarySearch(zones, m.Zone)
	}
	if n >= 2 && len(zones) >= n {
		c.wz = n
	}
	for p := range c.old {
		c.old[p] = -1
		if old != nil {
			c.old[p] = old[p]
		}
	}
	copy(c.owner, c.old)
	for _, o := range c.owner {
		if o >= 0 {
			c.count[o]++
		}
	}
	// The q%k nodes that keep one partition more are those that hold the
	// most now: fewer partitions move.
	byCount := make([]int, k)
	for i := range byCount {
		byCount[i] = i
	}
	slices.SortStableFunc(byCount, func(a, b int) int { return cmp.Compare(c.count[b], c.count[a]) })
	for rank, i := range byCount {
		c.target[i] = c.base
		if rank < q%k {
			c.target[i] = c.hi
		}
	}
	return c
}

// nodeWindow is the window in which owners are kept distinct: n, or with
// fewer than n+1 nodes the widest window any assignment can keep distinct
// (k if k divides q, else k-1).
func nodeWindow(q, k, n int) int {
	switch {
	case k > n:
		return n
	case q%k == 0:
		return k
	default:
		return k - 1
	}
}

func (c *claim) clone() *claim {
	d := *c
	d.owner = slices.Clone(c.owner)
	d.count = slices.Clone(c.count)
	d.target = slices.Clone(c.target)
	return &d
}

func (c *claim) ring(epoch uint64) Ring {
	return Ring{epoch: epoch, members: c.nodes, owners: slices.Clone(c.owner)}
}

func (c *claim) holes() int {
	h := 0
	for _, o := range c.owner {
		if o < 0 {
			h++
		}
	}
	return h
}

// moved is the number of partitions whose owner differs from the old one.
func (c *claim) moved() int {
	m := 0
	for p, o := range c.owner {
		if o != c.old[p] {
			m++
		}
	}
	return m
}

// score counts the pairs of partitions closer than the windows that share an
// owner (node) or a zone (zone).
func (c *claim) score() (node, zone int) {
	w := min(max(c.wn, c.wz), c.q)
	for p, o := range c.owner {
		if o < 0 {
			continue
		}
		for d := 1; d < w; d++ {
			x := c.owner[(p+d)%c.q]
			if x < 0 {
				continue
			}
			if d < c.wn && x == o {
				node++
			}
			if d < c.wz && c.zone[x] == c.zone[o] {
				zone++
			}
		}
	}
	return node, zone
}

// less orders finished claims: fewer owner conflicts, then fewer zone
// conflicts, then fewer moved partitions.
func (c *claim) less(o *claim) bool {
	cn, cz := c.score()
	on, oz := o.score()
	if cn != on {
		return cn < on
	}
	if cz != oz {
		return cz < oz
	}
	return c.moved() < o.moved()
}

// conflicts counts the partitions near p, other than p, that would conflict
// with node r owning p.
func (c *claim) conflicts(r, p int) (node, zone int) {
	w := min(max(c.wn, c.wz), c.q)
	zr := c.zone[r]
	for d := 1; d < w; d++ {
		x, y := (p+d)%c.q, (p-d+c.q)%c.q
		for i, pos := range [2]int{x, y} {
			if pos == p || (i == 1 && y == x) {
				continue
			}
			o := c.owner[pos]
			if o < 0 {
				continue
			}
			if d < c.wn && int(o) == r {
				node++
			}
			if d < c.wz && c.zone[o] == zr {
				zone++
			}
		}
	}
	return node, zone
}

func (c *claim) surplus(a int) int { return c.count[a] - c.target[a] }

// partner finds a node whose target can trade places with a's so that a can
// give one partition more than planned (give) or take one more (take): a
// node at target base that still has to give, or at target hi that still
// has to take. Trading keeps exactly q%k nodes at hi.
func (c *claim) partner(a int, give bool) int {
	best := -1
	for b := range c.count {
		s := c.surplus(b)
		switch {
		case b == a:
		case give && c.target[b] == c.base && s > 0 && (best < 0 || s > c.surplus(best)):
			best = b
		case !give && c.target[b] == c.hi && s < 0 && (best < 0 || s < c.surplus(best)):
			best = b
		}
	}
	return best
}

func (c *claim) canGive(a int) bool {
	s := c.surplus(a)
	return s > 0 || (s == 0 && c.target[a] == c.hi && c.hi > c.base && c.partner(a, true) >= 0)
}

func (c *claim) canTake(a int) bool {
	s := c.surplus(a)
	return s < 0 || (s == 0 && c.target[a] == c.base && c.hi > c.base && c.partner(a, false) >= 0)
}

// assign gives partition p to r; the caller has checked canGive of the
// current owner (if any) and canTake of r.
func (c *claim) assign(p, r int) {
	if a := int(c.owner[p]); a >= 0 {
		if c.surplus(a) <= 0 {
			b := c.partner(a, true)
			c.target[a], c.target[b] = c.base, c.hi
		}
		c.count[a]--
	}
	if c.surplus(r) >= 0 {
		b := c.partner(r, false)
		c.target[r], c.target[b] = c.hi, c.base
	}
	c.count[r]++
	c.owner[p] = int32(r)
}

// moveCost is how much giving p to r changes the number of moved partitions.
func (c *claim) moveCost(p, r int) int {
	before, after := 0, 0
	if c.owner[p] != c.old[p] {
		before = 1
	}
	if int32(r) != c.old[p] {
		after = 1
	}
	return after - before
}

// incremental runs the claim from the old assignment: fill the partitions of
// departed nodes, let new nodes take evenly spaced partitions from nodes
// over their target, top up the rest, then repair conflicts by swaps.
func (c *claim) incremental() {
	c.fillHoles()
	for r := range c.count {
		if c.count[r] == 0 {
			c.walk(r)
		}
	}
	c.topUp()
	c.repair()
}

// fillHoles gives every unowned partition to a node below its target, most
// constrained partition first.
func (c *claim) fillHoles() {
	for {
		h, perfectH, okH := -1, 0, 0
		for p, o := range c.owner {
			if o >= 0 {
				continue
			}
			perfect, ok := 0, 0
			for r := range c.count {
				if !c.canTake(r) {
					continue
				}
				if n, z := c.conflicts(r, p); n == 0 {
					ok++
					if z == 0 {
						perfect++
					}
				}
			}
			if h < 0 || perfect < perfectH || (perfect == perfectH && ok < okH) {
				h, perfectH, okH = p, perfect, ok
			}
		}
		if h < 0 {
			return
		}
		if perfectH == 0 && (c.augment(h) || c.chain(h)) {
			continue
		}
		best := -1
		var bestKey [3]int
		for r := range c.count {
			if !c.canTake(r) {
				continue
			}
			n, z := c.conflicts(r, h)
			key := [3]int{n, z, c.surplus(r)}
			if best < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
				best, bestKey = r, key
			}
		}
		c.assign(h, best)
	}
}

// augment fills hole h along an augmenting path, as in bipartite matching:
// h goes to a node that fits there but is at its target, which hands one of
// the partitions it got in this run (a former hole) on to another node, and
// so on until a node below its target takes one. Only former holes change
// hands, so no extra partition moves. It reports whether it found a path.
func (c *claim) augment(h int) bool {
	type step struct{ node, hole, prev int } // node reached by taking hole from prev's entry
	var queue []step
	seen := make([]bool, len(c.count))
	for b := range c.count {
		if n, z := c.conflicts(b, h); n == 0 && z == 0 {
			queue = append(queue, step{b, h, -1})
			seen[b] = true
		}
	}
	for i := 0; i < len(queue); i++ {
		b := queue[i].node
		if c.canTake(b) {
			// Shift along the path: the last node takes its hole, every
			// earlier one takes the hole it was reached by.
			for j := i; j >= 0; j = queue[j].prev {
				if from := int(c.owner[queue[j].hole]); from >= 0 {
					c.owner[queue[j].hole] = -1
					c.count[from]--
				}
				c.assign(queue[j].hole, queue[j].node)
			}
			return true
		}
		for x, o := range c.owner {
			if int(o) != b || c.old[x] >= 0 {
				continue
			}
			for a := range c.count {
				if seen[a] {
					continue
				}
				if n, z := c.conflicts(a, x); n == 0 && z == 0 {
					seen[a] = true
					queue = append(queue, step{a, x, i})
				}
			}
		}
	}
	return false
}

// chain fills hole h with a node b that fits there without conflict, and
// gives one of b's partitions x to a node a below its target that fits at
// x. It reports whether it found such a chain; it costs at most one extra
// moved partition.
func (c *claim) chain(h int) bool {
	bestB, bestX, bestA := -1, -1, -1
	var bestKey [3]int
	for b := range c.count {
		if n, z := c.conflicts(b, h); n != 0 || z != 0 {
			continue
		}
		for x, o := range c.owner {
			if int(o) != b || x == h {
				continue
			}
			for a := range c.count {
				if a == b || !c.canTake(a) {
					continue
				}
				if n, z := c.conflicts(a, x); n != 0 || z != 0 {
					continue
				}
				key := [3]int{c.moveCost(x, a), c.surplus(a), x}
				if bestB < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
					bestB, bestX, bestA, bestKey = b, x, a, key
				}
			}
		}
	}
	if bestB < 0 {
		return false
	}
	c.owner[bestX] = -1
	c.count[bestB]--
	c.assign(h, bestB)
	c.assign(bestX, bestA)
	return true
}

// walk gives node r, which owns nothing yet, its target number of
// partitions, evenly spaced around the ring and taken from the nodes with
// the most to give. It tries every start offset within one stride and keeps
// the best outcome.
func (c *claim) walk(r int) {
	m := -c.surplus(r)
	if m <= 0 {
		return
	}
	stride := (c.q + m - 1) / m
	var best *claim
	var bestKey [2]int
	for s := range stride {
		t := c.clone()
		short, zone := t.walkFrom(r, m, s)
		key := [2]int{short, zone}
		if best == nil || slices.Compare(key[:], bestKey[:]) < 0 {
			best, bestKey = t, key
		}
		if short == 0 && zone == 0 {
			break
		}
	}
	*c = *best
}

// walkFrom places up to m partitions for r near the ideal positions
// s + i·q/m, never going back, and returns how many it could not place and
// the zone conflicts it accepted.
func (c *claim) walkFrom(r, m, s int) (short, zoneConflicts int) {
	w := max(1, c.q/(2*m))
	last := s - w - 1  // unwrapped position of the last pick
	end := s - w + c.q // unwrapped positions stay below end: one lap
	for i := range m {
		ideal := s + i*c.q/m
		best, bestZ := -1, 0
		var bestKey [4]int
		for u := max(last+1, ideal-w); u <= min(ideal+w, end-1); u++ {
			p := (u%c.q + c.q) % c.q
			a := int(c.owner[p])
			if a == r || (a >= 0 && !c.canGive(a)) {
				continue
			}
			n, z := c.conflicts(r, p)
			if n != 0 {
				continue
			}
			urgency := c.q // an unowned partition is the most urgent
			if a >= 0 {
				urgency = c.surplus(a)
			}
			key := [4]int{z, -urgency, abs(u - ideal), u}
			if best < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
				best, bestZ, bestKey = u, z, key
			}
		}
		if best < 0 {
			short++
			continue
		}
		zoneConflicts += bestZ
		c.assign((best%c.q+c.q)%c.q, r)
		last = best
	}
	return short, zoneConflicts
}

// topUp moves single partitions from nodes above their target to nodes
// below it until every node is at its target, choosing each time the
// partition with the fewest conflicts and the least movement.
func (c *claim) topUp() {
	for {
		r := -1
		for i := range c.count {
			if c.surplus(i) < 0 && (r < 0 || c.surplus(i) < c.surplus(r)) {
				r = i
			}
		}
		if r < 0 {
			return
		}
		best := -1
		var bestKey [5]int
		for p, o := range c.owner {
			a := int(o)
			if a == r || (a >= 0 && !c.canGive(a)) {
				continue
			}
			n, z := c.conflicts(r, p)
			urgency := c.q
			if a >= 0 {
				urgency = c.surplus(a)
			}
			key := [5]int{n, z, c.moveCost(p, r), -urgency, p}
			if best < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
				best, bestKey = p, key
			}
		}
		if best < 0 {
			return // cannot happen: the surpluses sum to zero
		}
		c.assign(best, r)
	}
}

// repairMoves bounds the work of repair: it fixes a few conflicts left by
// the greedy phases; more than that is a sign that the old layout cannot be
// adapted cheaply, and the fresh layout wins.
const repairMoves = 16

// repair removes the remaining conflicts by swapping the owners of two
// partitions, or by shifting a partition from a node at hi to one at base
// (which keeps the balance), choosing each time the move that moves the
// fewest partitions among those that reduce the conflicts (owner conflicts
// first, then zone conflicts). It stops when no move helps.
func (c *claim) repair() {
	for range repairMoves {
		nodeV, zoneV := c.score()
		if nodeV == 0 && zoneV == 0 || nodeV+zoneV > repairMoves {
			return // done, or beyond a local repair: the caller falls back
		}
		bestP, bestQ, bestShift := -1, -1, -1
		var bestKey [5]int
		consider := func(key [5]int, p, q, shift int) {
			if key[1] > 0 || (key[1] == 0 && key[2] >= 0) {
				return // no improvement
			}
			if bestP < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
				bestP, bestQ, bestShift, bestKey = p, q, shift, key
			}
		}
		for p := range c.owner {
			a := int(c.owner[p])
			n, z := c.conflicts(a, p)
			if n == 0 && (nodeV > 0 || z == 0) {
				continue
			}
			for q, o := range c.owner {
				b := int(o)
				if b == a {
					continue
				}
				bn, bz := c.conflicts(b, q)
				dm := c.moveCost(p, b) + c.moveCost(q, a)
				c.owner[p], c.owner[q] = int32(b), int32(a)
				an1, az1 := c.conflicts(b, p)
				an2, az2 := c.conflicts(a, q)
				c.owner[p], c.owner[q] = int32(a), int32(b)
				consider([5]int{dm, an1 + an2 - n - bn, az1 + az2 - z - bz, p, q}, p, q, -1)
			}
			if c.count[a] != c.hi || c.target[a] != c.hi || c.hi == c.base {
				continue
			}
			for b := range c.count {
				if c.count[b] != c.base || c.target[b] != c.base {
					continue
				}
				bn, bz := c.conflicts(b, p)
				consider([5]int{c.moveCost(p, b), bn - n, bz - z, p, -1}, p, -1, b)
			}
		}
		if bestP < 0 {
			return
		}
		if bestShift >= 0 {
			a := c.owner[bestP]
			c.target[a], c.target[bestShift] = c.base, c.hi
			c.count[a]--
			c.count[bestShift]++
			c.owner[bestP] = int32(bestShift)
			continue
		}
		c.owner[bestP], c.owner[bestQ] = c.owner[bestQ], c.owner[bestP]
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
