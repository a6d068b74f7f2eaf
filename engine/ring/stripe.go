package ring

import "slices"

// fresh lays the ring out afresh as a stripe (see stripe) of the nodes in an
// order that spreads every zone evenly, then, if there was an old ring,
// renames nodes within their zones and rotates the layout to keep as many
// partitions with their old owners as it can.
func (c *claim) fresh() {
	k := len(c.nodes)
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	if c.wz > 0 {
		order = c.zoneOrder()
	}
	layout := stripe(c.q, order, c.wn)
	if c.holes() < c.q {
		layout = c.align(layout)
	}
	clear(c.count)
	for p, o := range layout {
		c.owner[p] = o
		c.count[o]++
	}
	copy(c.target, c.count)
}

// zoneOrder orders the nodes so that each zone is spread evenly around the
// cycle: the i-th of the m nodes of a zone sits at (i+½)/m of the way round,
// ties broken by zone. With equal-sized zones this is round robin.
func (c *claim) zoneOrder() []int {
	size := map[int]int{}
	rank := make([]int, len(c.nodes))
	for i, z := range c.zone {
		rank[i] = size[z]
		size[z]++
	}
	order := make([]int, len(c.nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		// compare (2·rank+1)/(2·size) of a and b
		l := (2*rank[a] + 1) * size[c.zone[b]]
		r := (2*rank[b] + 1) * size[c.zone[a]]
		if l != r {
			return l - r
		}
		return c.zone[a] - c.zone[b]
	})
	return order
}

// stripe assigns q partitions to the k nodes of order cyclically: order[0],
// order[1], …, order[k-1], order[0], … When k does not divide q, the stripe
// is laid out over the next multiple M of k and D = M-q of its positions
// are deleted, D distinct nodes one each (so counts stay within one), and
// the deletions at least w+1 apart. Then any w consecutive partitions span
// at most w+1 consecutive entries of order and are distinct as long as
// k >= w+1. If no such deletion pattern exists the window is narrowed.
func stripe(q int, order []int, w int) []int32 {
	k := len(order)
	m := (q + k - 1) / k * k
	d := m - q
	step := 1
	if d > 0 {
		for ; w >= 1; w-- {
			if s, ok := deletionStep(m, d, k, w); ok {
				step = s
				break
			}
		}
	}
	out := make([]int32, 0, q)
	for e := range m {
		if d > 0 && e%step == 0 && e/step < d {
			continue
		}
		out = append(out, int32(order[e%k]))
	}
	return out
}

// deletionStep finds a step s such that the deletions at 0, s, 2s, …,
// (d-1)s hit distinct nodes, are at least w+1 apart (also across the wrap
// at m) and leave a window of w+1 entries, the longest one a window of w
// partitions can span, within the k distinct nodes.
func deletionStep(m, d, k, w int) (int, bool) {
	if k < w+1 {
		return 0, false
	}
	minStep := w + 1
	if w == 1 {
		minStep = 1
	}
	seen := make([]bool, k)
	for s := m / d; s >= minStep; s-- {
		clear(seen)
		ok := true
		for j := range d {
			if seen[j*s%k] {
				ok = false
				break
			}
			seen[j*s%k] = true
		}
		if ok {
			return s, true
		}
	}
	return 0, false
}

// align renames and rotates layout to agree with the old owners as much as
// it can: for every rotation it matches layout nodes to nodes of the same
// zone (when zones count) greedily by overlap, and keeps the rotation with
// the largest total overlap (the first on ties).
func (c *claim) align(layout []int32) []int32 {
	k := len(c.nodes)
	overlap := make([]int, k*k)
	type pair struct{ from, to, n int }
	pairs := make([]pair, 0, k*k)
	var best []int32
	bestTotal := -1
	for rot := range c.q {
		clear(overlap)
		for p, o := range c.old {
			if o >= 0 {
				overlap[int(layout[(p+rot)%c.q])*k+int(o)]++
			}
		}
		pairs = pairs[:0]
		for from := range k {
			for to := range k {
				if c.wz == 0 || c.zone[from] == c.zone[to] {
					pairs = append(pairs, pair{from, to, overlap[from*k+to]})
				}
			}
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return b.n - a.n })
		rename := make([]int32, k)
		usedFrom, usedTo := make([]bool, k), make([]bool, k)
		total := 0
		for _, pr := range pairs {
			if usedFrom[pr.from] || usedTo[pr.to] {
				continue
			}
			usedFrom[pr.from], usedTo[pr.to] = true, true
			rename[pr.from] = int32(pr.to)
			total += pr.n
		}
		if total > bestTotal {
			bestTotal = total
			best = make([]int32, c.q)
			for p := range best {
				best[p] = rename[layout[(p+rot)%c.q]]
			}
		}
	}
	return best
}
