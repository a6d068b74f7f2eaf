package ring_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/ring"
)

// The Dynamo paper (§6.2) compares three ways of placing data, by their
// load-balancing efficiency (the mean load of a node over the largest) at
// the same amount of membership information per node:
//
//  1. T random tokens per node; a key belongs to the range its hash falls
//     in, and the range's preference list is the next N distinct nodes.
//  2. T random tokens per node, but Q equal partitions; a partition's
//     preference list is the next N distinct nodes clockwise from its end.
//  3. Q equal partitions and Q/S tokens per node, one per partition:
//     concord's ring (package ring), which gives every node the same
//     number of partitions, give or take one.
//
// strategyLoads returns each node's load for a uniform key distribution:
// the share of the key space it holds a replica of.

type token struct {
	pos  float64
	node int
}

func randomTokens(rng *rand.Rand, s, t int) []token {
	var ts []token
	for node := range s {
		for range t {
			ts = append(ts, token{pos: rng.Float64(), node: node})
		}
	}
	slices.SortFunc(ts, func(a, b token) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	return ts
}

// walk returns the first n distinct nodes of ts from index i on, wrapping.
func walk(ts []token, i, n int) []int {
	var out []int
	for j := 0; len(out) < n && j < len(ts); j++ {
		node := ts[(i+j)%len(ts)].node
		if !slices.Contains(out, node) {
			out = append(out, node)
		}
	}
	return out
}

func strategy1(rng *rand.Rand, s, t, n int) []float64 {
	ts := randomTokens(rng, s, t)
	load := make([]float64, s)
	for i, tk := range ts {
		prev := 0.0
		if i > 0 {
			prev = ts[i-1].pos
		} else {
			prev = ts[len(ts)-1].pos - 1
		}
		for _, node := range walk(ts, i, n) {
			load[node] += tk.pos - prev
		}
	}
	return load
}

func strategy2(rng *rand.Rand, s, t, q, n int) []float64 {
	ts := randomTokens(rng, s, t)
	load := make([]float64, s)
	for p := range q {
		end := float64(p+1) / float64(q)
		i, _ := slices.BinarySearchFunc(ts, end, func(tk token, x float64) int {
			if tk.pos < x {
				return -1
			}
			return 1
		})
		for _, node := range walk(ts, i%len(ts), n) {
			load[node] += 1 / float64(q)
		}
	}
	return load
}

func strategy3(t *testing.T, s, q, n int) []float64 {
	r := mustNew(t, q, nodes(0, s), n)
	load := map[ring.NodeID]float64{}
	for p := range q {
		for _, id := range r.PreferenceList(p, n) {
			load[id] += 1 / float64(q)
		}
	}
	out := make([]float64, 0, s)
	for _, l := range load {
		out = append(out, l)
	}
	return out
}

func efficiency(load []float64) float64 {
	sum, top := 0.0, 0.0
	for _, l := range load {
		sum += l
		top = max(top, l)
	}
	return sum / float64(len(load)) / top
}

// TestPartitioningStrategies runs the three strategies on 30 nodes with
// N=3 at several sizes of membership information (tokens or partitions per
// node), averages the efficiency over seeds, and checks the paper's
// finding: strategy 3 balances best at every size. `go test -v -run
// TestPartitioningStrategies ./engine/ring/` prints the table
// docs/benchmarks.md shows.
func TestPartitioningStrategies(t *testing.T) {
	t.Parallel()
	const s, n, seeds = 30, 3, 20
	t.Logf("%-12s %-12s %-12s %-12s %-12s", "Q", "per node", "strategy 1", "strategy 2", "strategy 3")
	for _, q := range []int{64, 256, 1024, 4096} {
		per := max(1, q/s)
		var e1, e2 float64
		for seed := range seeds {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(q)))
			e1 += efficiency(strategy1(rng, s, per, n)) / seeds
			e2 += efficiency(strategy2(rng, s, per, q, n)) / seeds
		}
		e3 := efficiency(strategy3(t, s, q, n))
		t.Logf("%-12d %-12d %-12.3f %-12.3f %-12.3f", q, per, e1, e2, e3)
		if e3 <= e1 || e3 <= e2 {
			t.Errorf("Q=%d: strategy 3 efficiency %.3f, not above strategy 1 (%.3f) and 2 (%.3f)", q, e3, e1, e2)
		}
	}
}
