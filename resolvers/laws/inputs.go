package laws

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/concord-kv/concord/resolvers/abi"
)

// A shape is a kind of sibling set: distinct live values (as far as the
// samples allow), copies of the first of them, and tombstones.
type shape struct{ live, dups, tombs int }

// shapes are tried in turn, smallest first, so the first violation of a law
// tends to be on a small input.
var shapes = []shape{
	{live: 2},
	{live: 2, tombs: 1},
	{live: 1, dups: 1},
	{live: 3},
	{live: 1, tombs: 1},
	{live: 3, tombs: 1},
	{live: 2, dups: 1},
	{tombs: 2},
}

// baseTimestamp is the timestamp of the earliest sibling (2024-01-01). The
// others are up to two seconds later, so timestamps often tie.
const baseTimestamp = int64(1704067200) * int64(time.Second)

// siblingSets returns up to n distinct sibling sets built from samples,
// the same for the same arguments. With no samples, only tombstones.
func siblingSets(samples []Sample, n int, seed uint64) [][]abi.Sibling {
	rng := rand.New(rand.NewPCG(seed, 0x6c617773)) // "laws"
	seen := map[string]bool{}
	var sets [][]abi.Sibling
	for try := 0; len(sets) < n && try < 8*n; try++ {
		sh := shapes[try%len(shapes)]
		if len(samples) == 0 {
			sh = shape{tombs: 2}
		}
		sibs := drawSet(rng, samples, sh)
		key := string(abi.EncodeInput(abi.Input{Siblings: sibs}))
		if seen[key] {
			continue
		}
		seen[key] = true
		sets = append(sets, sibs)
	}
	return sets
}

func drawSet(rng *rand.Rand, samples []Sample, sh shape) []abi.Sibling {
	timestamp := func() int64 { return baseTimestamp + rng.Int64N(3)*int64(time.Second) }
	var picks []int
	if len(samples) >= sh.live {
		picks = rng.Perm(len(samples))[:sh.live]
	} else {
		for range sh.live {
			picks = append(picks, rng.IntN(len(samples)))
		}
	}
	for range min(sh.dups, len(picks)) {
		picks = append(picks, picks[0])
	}
	sibs := make([]abi.Sibling, 0, len(picks)+sh.tombs)
	for _, i := range picks {
		sibs = append(sibs, abi.Sibling{Value: slices.Clone(samples[i]), Timestamp: timestamp()})
	}
	for range sh.tombs {
		sibs = append(sibs, abi.Sibling{Tombstone: true, Timestamp: timestamp()})
	}
	rng.Shuffle(len(sibs), func(i, j int) { sibs[i], sibs[j] = sibs[j], sibs[i] })
	return sibs
}

// permutations returns up to limit orders of n items other than the
// identity: all of them when there are few enough, else random ones.
func permutations(rng *rand.Rand, n, limit int) [][]int {
	var perms [][]int
	if factorial(n) <= limit {
		p := identity(n)
		for nextPermutation(p) {
			perms = append(perms, slices.Clone(p))
		}
		return perms
	}
	for len(perms) < limit {
		p := rng.Perm(n)
		if !slices.Equal(p, identity(n)) {
			perms = append(perms, p)
		}
	}
	return perms
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func factorial(n int) int {
	f := 1
	for i := 2; i <= n; i++ {
		f *= i
		if f > 1<<20 {
			break
		}
	}
	return f
}

// nextPermutation rearranges p into the next permutation in lexicographic
// order, reporting false when p was the last one.
func nextPermutation(p []int) bool {
	i := len(p) - 2
	for i >= 0 && p[i] >= p[i+1] {
		i--
	}
	if i < 0 {
		return false
	}
	j := len(p) - 1
	for p[j] <= p[i] {
		j--
	}
	p[i], p[j] = p[j], p[i]
	slices.Reverse(p[i+1:])
	return true
}

// permute returns sibs in the order perm: the i-th result is sibs[perm[i]].
func permute(sibs []abi.Sibling, perm []int) []abi.Sibling {
	out := make([]abi.Sibling, len(perm))
	for i, j := range perm {
		out[i] = sibs[j]
	}
	return out
}

func maxTimestamp(sibs []abi.Sibling) int64 {
	ts := sibs[0].Timestamp
	for _, s := range sibs[1:] {
		ts = max(ts, s.Timestamp)
	}
	return ts
}
