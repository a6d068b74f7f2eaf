package ring_test

import (
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/ring"
)

// nodes returns members node-00, node-01, … (first included, last excluded),
// all in zone "".
func nodes(first, last int) []ring.Member {
	var out []ring.Member
	for i := first; i < last; i++ {
		out = append(out, ring.Member{ID: ring.NodeID(fmt.Sprintf("node-%02d", i))})
	}
	return out
}

// zoned returns m members in each of z zones.
func zoned(z, m int) []ring.Member {
	var out []ring.Member
	for zi := range z {
		for i := range m {
			out = append(out, ring.Member{ID: ring.NodeID(fmt.Sprintf("z%d-node-%02d", zi, i)), Zone: fmt.Sprintf("zone-%d", zi)})
		}
	}
	return out
}

// fullWindow is the window of consecutive partitions a ring of k members
// keeps distinct for replication factor n (property 2 of the package doc).
func fullWindow(q, k, n int) int {
	switch {
	case k > n:
		return n
	case q%k == 0:
		return k
	default:
		return k - 1
	}
}

type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkBalance fails unless counts differ by at most one and every member
// owns a partition.
func checkBalance(t fataler, r ring.Ring) {
	t.Helper()
	counts := r.Counts()
	lo, hi := r.Q(), 0
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if hi-lo > 1 || len(counts) != len(r.Members()) {
		t.Fatalf("unbalanced: counts %v", counts)
	}
}

// checkWindows fails unless every w consecutive partitions have distinct
// colors.
func checkWindows(t fataler, r ring.Ring, w int, what string, color func(ring.NodeID) string) {
	t.Helper()
	q := r.Q()
	for p := range q {
		var seen []string
		for d := range w {
			c := color(r.Owner((p + d) % q))
			if slices.Contains(seen, c) {
				t.Fatalf("partitions %d..%d (window %d) repeat %s %q: %v", p, p+w-1, w, what, c, seen)
			}
			seen = append(seen, c)
		}
	}
}

func byNode(id ring.NodeID) string { return string(id) }

func byZone(r ring.Ring) func(ring.NodeID) string {
	return func(id ring.NodeID) string {
		z, _ := r.Zone(id)
		return z
	}
}

// moved counts partitions whose owner differs.
func moved(a, b ring.Ring) int { return len(ring.Plan(a, b)) }

func mustNew(t fataler, q int, ms []ring.Member, n int) ring.Ring {
	t.Helper()
	r, err := ring.New(q, ms, n)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func reversed(ms []ring.Member) []ring.Member {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}
