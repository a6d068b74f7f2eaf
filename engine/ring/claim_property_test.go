package ring_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/ring"
)

// TestClaimProperties runs random sequences of joins and leaves (1 to 4
// initial nodes, up to 12 nodes, Q in {64, 128, 256, 1024}, n in 1..5) and
// checks the claim properties of the package doc after every step.
func TestClaimProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.SampledFrom([]int{64, 128, 256, 1024}).Draw(t, "q")
		n := rapid.IntRange(1, 5).Draw(t, "n")
		next := rapid.IntRange(1, 4).Draw(t, "initial")
		members := nodes(0, next)
		r := mustNew(t, q, members, n)
		checkRing(t, r, n)
		for range rapid.IntRange(1, 12).Draw(t, "steps") {
			k := len(members)
			join := k == 1 || (k < 12 && rapid.Bool().Draw(t, "join"))
			var to []ring.Member
			if join {
				to = append(slices.Clone(members), nodes(next, next+1)...)
				next++
			} else {
				i := rapid.IntRange(0, k-1).Draw(t, "leaver")
				to = slices.Delete(slices.Clone(members), i, i+1)
			}
			nr, err := ring.Rebalance(r, to, n)
			if err != nil {
				t.Fatalf("Rebalance: %v", err)
			}
			if nr.Epoch() != r.Epoch()+1 {
				t.Fatalf("epoch %d after %d", nr.Epoch(), r.Epoch())
			}
			checkRing(t, nr, n)
			m := moved(r, nr)
			switch kk := len(to); {
			case join && fullWindow(q, k, n) == n:
				if bound := (q+kk-1)/kk + n; m > bound {
					t.Fatalf("join %d -> %d nodes (n=%d, Q=%d) moved %d partitions, bound %d", k, kk, n, q, m, bound)
				}
			case !join && kk > 2*n:
				left := q - ownedBy(r, to)
				if m > left+n {
					t.Fatalf("leave %d -> %d nodes (n=%d, Q=%d) moved %d partitions, the leaver had %d", k, kk, n, q, m, left)
				}
			}
			r, members = nr, to
		}
	})
}

// ownedBy is the number of partitions of r owned by members.
func ownedBy(r ring.Ring, members []ring.Member) int {
	total := 0
	counts := r.Counts()
	for _, m := range members {
		total += counts[m.ID]
	}
	return total
}

// checkRing checks properties 1 and 2 and the preference lists.
func checkRing(t *rapid.T, r ring.Ring, n int) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	checkBalance(t, r)
	k := len(r.Members())
	checkWindows(t, r, fullWindow(r.Q(), k, n), "node", byNode)
	for p := range r.Q() {
		pl := r.PreferenceList(p, n)
		if len(pl) != min(n, k) || pl[0] != r.Owner(p) {
			t.Fatalf("PreferenceList(%d, %d) = %v", p, n, pl)
		}
		for i := range pl {
			if slices.Contains(pl[i+1:], pl[i]) {
				t.Fatalf("PreferenceList(%d, %d) = %v repeats %s", p, n, pl, pl[i])
			}
		}
	}
}

// TestClaimDeterministic checks that Rebalance is a function of its
// arguments, whatever the order of the members.
func TestClaimDeterministic(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.SampledFrom([]int{64, 256}).Draw(t, "q")
		n := rapid.IntRange(1, 5).Draw(t, "n")
		k := rapid.IntRange(1, 10).Draw(t, "k")
		from := nodes(0, k)
		r := mustNew(t, q, from, n)
		to := rapid.Permutation(nodes(rapid.IntRange(0, k).Draw(t, "drop"), k+rapid.IntRange(0, 3).Draw(t, "add"))).Draw(t, "to")
		if len(to) == 0 {
			return
		}
		a, err1 := ring.Rebalance(r, to, n)
		b, err2 := ring.Rebalance(r, reversed(to), n)
		if err1 != nil || err2 != nil || !a.Equal(b) {
			t.Fatalf("Rebalance differs: %v, %v", err1, err2)
		}
		if again := mustNew(t, q, reversed(from), n); !again.Equal(r) {
			t.Fatal("New depends on the order of the members")
		}
	})
}

// TestZonesBalanced checks zone spreading where the package doc guarantees
// it: every zone holds the same number of members and there are at least
// n+1 zones, for New and for Rebalance from any earlier ring.
func TestZonesBalanced(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.SampledFrom([]int{64, 128, 256, 1024}).Draw(t, "q")
		n := rapid.IntRange(2, 5).Draw(t, "n")
		z := rapid.IntRange(n+1, 6).Draw(t, "zones")
		m1 := rapid.IntRange(1, 16/z).Draw(t, "per zone before")
		m2 := rapid.IntRange(1, 16/z).Draw(t, "per zone after")
		r := mustNew(t, q, zoned(z, m1), n)
		checkZones(t, r, n)
		nr, err := ring.Rebalance(r, zoned(z, m2), n)
		if err != nil {
			t.Fatal(err)
		}
		checkZones(t, nr, n)
	})
}

func checkZones(t *rapid.T, r ring.Ring, n int) {
	t.Helper()
	checkBalance(t, r)
	checkWindows(t, r, n, "node", byNode)
	checkWindows(t, r, n, "zone", byZone(r))
}

// TestZonesBestEffort checks that zones never break properties 1 and 2,
// whatever the zones.
func TestZonesBestEffort(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.SampledFrom([]int{64, 256}).Draw(t, "q")
		n := rapid.IntRange(1, 4).Draw(t, "n")
		k := rapid.IntRange(1, 10).Draw(t, "k")
		zones := rapid.IntRange(1, 4).Draw(t, "zones")
		var ms []ring.Member
		for i := range k {
			ms = append(ms, ring.Member{ID: ring.NodeID(fmt.Sprintf("n%02d", i)), Zone: fmt.Sprint(rapid.IntRange(0, zones-1).Draw(t, "zone"))})
		}
		r := mustNew(t, q, ms, n)
		checkRing(t, r, n)
		j := rapid.IntRange(0, k-1).Draw(t, "leaver")
		to := append(slices.Delete(slices.Clone(ms), j, j+1), ring.Member{ID: "new", Zone: "0"})
		nr, err := ring.Rebalance(r, to, n)
		if err != nil {
			t.Fatal(err)
		}
		checkRing(t, nr, n)
	})
}
