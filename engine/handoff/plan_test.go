package handoff_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/ring"
)

func members(k int) []ring.Member {
	var ms []ring.Member
	for i := range k {
		ms = append(ms, ring.Member{ID: ring.NodeID(fmt.Sprintf("n%d", i))})
	}
	return ms
}

func TestPlanGivesEveryNewReplicaItsPartitionFromAnOldOne(t *testing.T) {
	t.Parallel()
	const q, n = 64, 3
	prev, err := ring.New(q, members(3), n)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{2, 4, 5} { // a leave and joins
		cur, err := ring.Rebalance(prev, members(k), n)
		if err != nil {
			t.Fatal(err)
		}
		plan := handoff.Plan(prev, cur, n)
		got := map[[2]string]bool{}
		for _, tr := range plan {
			old := prev.PreferenceList(tr.Partition, n)
			if !slices.Contains(old, ring.NodeID(tr.From)) {
				t.Fatalf("k=%d: transfer %+v from a node that was no replica", k, tr)
			}
			got[[2]string{fmt.Sprint(tr.Partition), tr.To}] = true
		}
		for p := range q {
			old := prev.PreferenceList(p, n)
			for _, id := range cur.PreferenceList(p, n) {
				want := !slices.Contains(old, id)
				if got[[2]string{fmt.Sprint(p), string(id)}] != want {
					t.Fatalf("k=%d partition %d node %s: transfer planned = %v, want %v", k, p, id, !want, want)
				}
			}
		}
		leaving := handoff.Leaving(prev, cur, n)
		for p, ids := range leaving {
			for _, id := range ids {
				if slices.Contains(cur.PreferenceList(p, n), ring.NodeID(id)) {
					t.Fatalf("k=%d: %s listed as leaving partition %d it still replicates", k, id, p)
				}
			}
		}
	}
}

func TestPlanOfAnUnchangedRingIsEmpty(t *testing.T) {
	t.Parallel()
	r, err := ring.New(64, members(4), 3)
	if err != nil {
		t.Fatal(err)
	}
	if plan := handoff.Plan(r, r, 3); len(plan) != 0 {
		t.Fatalf("plan of an unchanged ring: %v", plan)
	}
}

func TestETA(t *testing.T) {
	t.Parallel()
	p := handoff.Progress{RemainingBytes: 1000, Rate: 100}
	if p.ETA() != 10 {
		t.Fatalf("ETA = %v", p.ETA())
	}
	p.Done = true
	if p.ETA() != 0 {
		t.Fatalf("ETA when done = %v", p.ETA())
	}
}

// TestPlanAllCoversEveryReplicaCount: namespaces with n=1 and n=3 on a
// shrinking ring: every node that becomes a replica under either count
// receives the partition once.
func TestPlanAllCoversEveryReplicaCount(t *testing.T) {
	t.Parallel()
	prev, err := ring.New(64, members(4), 3)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ring.Rebalance(prev, members(3), 3)
	if err != nil {
		t.Fatal(err)
	}
	all := handoff.PlanAll(prev, cur, []int{1, 3, 4})
	seen := map[[2]string]int{}
	for _, tr := range all {
		seen[[2]string{fmt.Sprint(tr.Partition), tr.To}]++
	}
	for _, n := range []int{1, 3, 4} {
		for _, tr := range handoff.Plan(prev, cur, n) {
			if seen[[2]string{fmt.Sprint(tr.Partition), tr.To}] != 1 {
				t.Fatalf("n=%d transfer %+v missing or duplicated in PlanAll", n, tr)
			}
		}
	}
	if len(handoff.Plan(prev, cur, 4)) >= len(all) {
		t.Fatalf("planning only for the largest n misses transfers: %d vs %d", len(handoff.Plan(prev, cur, 4)), len(all))
	}
}

// TestDropsAreWhatEachNodeLeaves: over joins and a leave, every node drops
// exactly the partitions it leaves, and no partition is dropped by a node
// that still replicates it.
func TestDropsAreWhatEachNodeLeaves(t *testing.T) {
	t.Parallel()
	const q, n = 64, 3
	prev, err := ring.New(q, members(4), n)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{3, 5, 6} {
		cur, err := ring.Rebalance(prev, members(k), n)
		if err != nil {
			t.Fatal(err)
		}
		leaving := handoff.Leaving(prev, cur, n)
		dropped := map[int][]string{}
		for i := range max(k, 4) {
			self := fmt.Sprintf("n%d", i)
			drops := handoff.Drops(prev, cur, n, self)
			if !slices.IsSorted(drops) {
				t.Fatalf("%d members: drops of %s not sorted: %v", k, self, drops)
			}
			for _, p := range drops {
				if slices.Contains(cur.PreferenceList(p, n), ring.NodeID(self)) {
					t.Fatalf("%d members: %s drops partition %d it still replicates", k, self, p)
				}
				dropped[p] = append(dropped[p], self)
			}
		}
		for p, ids := range leaving {
			slices.Sort(ids)
			if !slices.Equal(dropped[p], ids) {
				t.Fatalf("%d members: partition %d dropped by %v, left by %v", k, p, dropped[p], ids)
			}
		}
		if len(dropped) != len(leaving) {
			t.Fatalf("%d members: %d partitions dropped, %d left", k, len(dropped), len(leaving))
		}
	}
}
