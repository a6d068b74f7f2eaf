package ring_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/ring"
)

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		q       int
		members []ring.Member
		n       int
	}{
		{"q not a power of two", 100, nodes(0, 3), 3},
		{"q negative", -4, nodes(0, 3), 3},
		{"q too large", ring.MaxQ * 2, nodes(0, 3), 3},
		{"n zero", 64, nodes(0, 3), 0},
		{"no members", 64, nil, 3},
		{"empty ID", 64, []ring.Member{{ID: ""}}, 1},
		{"duplicate ID", 64, []ring.Member{{ID: "a"}, {ID: "a", Zone: "z"}}, 1},
		{"more members than partitions", 2, nodes(0, 3), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ring.New(tt.q, tt.members, tt.n); !errors.Is(err, ring.ErrInvalidArgument) {
				t.Fatalf("New = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestRebalanceRejects(t *testing.T) {
	t.Parallel()
	r := mustNew(t, 64, nodes(0, 4), 3)
	if _, err := ring.Rebalance(ring.Ring{}, nodes(0, 4), 3); !errors.Is(err, ring.ErrInvalidArgument) {
		t.Fatalf("Rebalance(zero ring) = %v", err)
	}
	if _, err := ring.Rebalance(r, nil, 3); !errors.Is(err, ring.ErrInvalidArgument) {
		t.Fatalf("Rebalance(no members) = %v", err)
	}
	if _, err := ring.Rebalance(r, nodes(0, 4), 0); !errors.Is(err, ring.ErrInvalidArgument) {
		t.Fatalf("Rebalance(n = 0) = %v", err)
	}
}

func TestNewLayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, k, n int
	}{
		{1, 1, 3}, {2, 2, 2}, {64, 1, 3}, {64, 2, 3}, {64, 3, 3}, {64, 4, 4}, {64, 5, 3},
		{256, 3, 3}, {256, 7, 3}, {256, 16, 5}, {1024, 13, 5}, {64, 64, 3}, {DefaultQOf(0), 6, 3},
	}
	for _, tt := range tests {
		r := mustNew(t, tt.q, nodes(0, tt.k), tt.n)
		if r.Epoch() != 1 || r.Q() != tt.q || len(r.Members()) != tt.k {
			t.Fatalf("q=%d k=%d: epoch %d, Q %d, %d members", tt.q, tt.k, r.Epoch(), r.Q(), len(r.Members()))
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		checkBalance(t, r)
		checkWindows(t, r, fullWindow(tt.q, tt.k, tt.n), "node", byNode)
	}
}

// DefaultQOf is q, or ring.DefaultQ for 0, as New reads it.
func DefaultQOf(q int) int {
	if q == 0 {
		return ring.DefaultQ
	}
	return q
}

func TestNewDefaultQ(t *testing.T) {
	t.Parallel()
	if r := mustNew(t, 0, nodes(0, 3), 3); r.Q() != ring.DefaultQ {
		t.Fatalf("Q = %d, want %d", r.Q(), ring.DefaultQ)
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	ms := []ring.Member{{ID: "c", Zone: "z2"}, {ID: "a", Zone: "z1"}, {ID: "b", Zone: "z1"}}
	r := mustNew(t, 64, ms, 3)
	if got := r.Members(); !slices.Equal(got, []ring.Member{{ID: "a", Zone: "z1"}, {ID: "b", Zone: "z1"}, {ID: "c", Zone: "z2"}}) {
		t.Fatalf("Members = %v", got)
	}
	total := 0
	for _, m := range r.Members() {
		parts := r.Partitions(m.ID)
		if len(parts) != r.Counts()[m.ID] || !slices.IsSorted(parts) {
			t.Fatalf("Partitions(%s) = %v, count %d", m.ID, parts, r.Counts()[m.ID])
		}
		for _, p := range parts {
			if r.Owner(p) != m.ID {
				t.Fatalf("Owner(%d) = %s, want %s", p, r.Owner(p), m.ID)
			}
		}
		total += len(parts)
	}
	if total != 64 {
		t.Fatalf("partitions add up to %d", total)
	}
	if r.Partitions("nobody") != nil {
		t.Fatal("Partitions of a non-member")
	}
	if z, ok := r.Zone("c"); !ok || z != "z2" {
		t.Fatalf("Zone(c) = %q, %v", z, ok)
	}
	if _, ok := r.Zone("nobody"); ok {
		t.Fatal("Zone of a non-member")
	}
}

func TestPreferenceList(t *testing.T) {
	t.Parallel()
	r := mustNew(t, 64, nodes(0, 5), 3)
	for p := range r.Q() {
		pl := r.PreferenceList(p, 3)
		// With the full window, the list is the owners of p, p+1, p+2.
		want := []ring.NodeID{r.Owner(p), r.Owner((p + 1) % 64), r.Owner((p + 2) % 64)}
		if !slices.Equal(pl, want) {
			t.Fatalf("PreferenceList(%d) = %v, want %v", p, pl, want)
		}
	}
	if pl := r.PreferenceList(7, 9); len(pl) != 5 {
		t.Fatalf("PreferenceList with n > members = %v", pl)
	}
	if pl := r.PreferenceList(7, 0); len(pl) != 0 {
		t.Fatalf("PreferenceList(n = 0) = %v", pl)
	}
	// Two nodes and n = 3: the list has both, distinct.
	r2 := mustNew(t, 64, nodes(0, 2), 3)
	if pl := r2.PreferenceList(63, 3); len(pl) != 2 || pl[0] == pl[1] {
		t.Fatalf("PreferenceList = %v", pl)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := (ring.Ring{}).Validate(); !errors.Is(err, ring.ErrInvalidRing) {
		t.Fatalf("zero ring: %v", err)
	}
	if _, err := (ring.Ring{}).MarshalBinary(); !errors.Is(err, ring.ErrInvalidRing) {
		t.Fatalf("marshal zero ring: %v", err)
	}
}

func TestCompareAndNewer(t *testing.T) {
	t.Parallel()
	a := mustNew(t, 64, nodes(0, 4), 3)
	b := mustNew(t, 64, nodes(1, 5), 3) // same epoch, different ring
	c, err := ring.Rebalance(a, nodes(0, 5), 3)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Compare(a, a) != 0 || !ring.Newer(a, a).Equal(a) {
		t.Fatal("a ring is not equal to itself")
	}
	if ring.Compare(c, a) != 1 || ring.Compare(a, c) != -1 || !ring.Newer(a, c).Equal(c) {
		t.Fatal("the higher epoch does not win")
	}
	ab, ba := ring.Compare(a, b), ring.Compare(b, a)
	if ab == 0 || ab != -ba || !ring.Newer(a, b).Equal(ring.Newer(b, a)) {
		t.Fatalf("tie not broken deterministically: %d, %d", ab, ba)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	a := mustNew(t, 256, nodes(0, 6), 3)
	b, err := ring.Rebalance(a, nodes(0, 7), 3)
	if err != nil {
		t.Fatal(err)
	}
	plan := ring.Plan(a, b)
	if len(plan) == 0 || !slices.IsSortedFunc(plan, func(x, y ring.Transfer) int { return x.Partition - y.Partition }) {
		t.Fatalf("plan %v", plan)
	}
	for _, tr := range plan {
		if tr.From != a.Owner(tr.Partition) || tr.To != b.Owner(tr.Partition) || tr.To != "node-06" {
			t.Fatalf("transfer %+v", tr)
		}
	}
	if len(ring.Plan(a, a)) != 0 {
		t.Fatal("plan of a ring with itself")
	}
}

func TestRebalanceScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		q, n      int
		from, to  []ring.Member
		maxMoved  int
		wantEpoch uint64
	}{
		{"join 4th of n=3", 256, 3, nodes(0, 3), nodes(0, 4), -1, 2},
		{"join 6th", 256, 3, nodes(0, 5), nodes(0, 6), 256/6 + 1 + 3, 2},
		{"join 16th", 1024, 5, nodes(0, 15), nodes(0, 16), 1024/16 + 5, 2},
		{"leave 1 of 8", 256, 3, nodes(0, 8), nodes(1, 8), 32 + 3, 2},
		{"leave 1 of 12, Q=1024", 1024, 5, nodes(0, 12), nodes(1, 12), 86 + 5, 2},
		{"replace a node", 256, 3, nodes(0, 8), append(nodes(1, 8), nodes(8, 9)...), -1, 2},
		{"replace everything", 128, 3, nodes(0, 5), nodes(5, 10), -1, 2},
		{"no change", 256, 3, nodes(0, 6), nodes(0, 6), 0, 2},
		{"shrink to one", 64, 3, nodes(0, 4), nodes(2, 3), -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := mustNew(t, tt.q, tt.from, tt.n)
			b, err := ring.Rebalance(a, tt.to, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if b.Epoch() != tt.wantEpoch {
				t.Fatalf("epoch %d", b.Epoch())
			}
			checkBalance(t, b)
			checkWindows(t, b, fullWindow(tt.q, len(tt.to), tt.n), "node", byNode)
			if m := moved(a, b); tt.maxMoved >= 0 && m > tt.maxMoved {
				t.Fatalf("%d partitions moved, want <= %d", m, tt.maxMoved)
			}
			// Deterministic, whatever the order of the members.
			again, _ := ring.Rebalance(a, reversed(tt.to), tt.n)
			if !again.Equal(b) {
				t.Fatal("Rebalance depends on the order of the members")
			}
		})
	}
}
