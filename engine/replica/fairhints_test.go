package replica_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/replica"
)

// TestHintBatchesAreFairBetweenNamespaces: a batch of hints takes every
// namespace's in turn, so the three hints of a small tenant ride in the
// first batch although a big tenant's hundred come first in key order; a
// batch never holds a hint twice, and batches taken until none is left
// hold every hint once.
func TestHintBatchesAreFairBetweenNamespaces(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	store := func(owner, ns string, n int) {
		for i := range n {
			if err := s.StoreHint(owner, ns, fmt.Appendf(nil, "k%03d", i), obj, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	store("b", "aaa-big", 100) // sorts first
	store("b", "zzz-small", 3)
	store("c", "zzz-small", 5) // another owner's: never in b's batches

	batch, err := s.Hints("b", 64)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	seen := map[string]bool{}
	for _, h := range batch {
		if h.Owner != "b" {
			t.Fatalf("a hint for %s in b's batch", h.Owner)
		}
		id := h.Namespace + "/" + string(h.Key)
		if seen[id] {
			t.Fatalf("hint %s twice in one batch", id)
		}
		seen[id] = true
		per[h.Namespace]++
	}
	if len(batch) != 64 || per["zzz-small"] != 3 || per["aaa-big"] != 61 {
		t.Fatalf("batch of 64: %d hints, by namespace %v; want the small tenant's 3 and 61 of the big one's", len(batch), per)
	}

	// Deliver batch after batch: every hint once, none left.
	delivered := map[string]bool{}
	for range 10 {
		batch, err := s.Hints("b", 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		for _, h := range batch {
			id := h.Namespace + "/" + string(h.Key)
			if delivered[id] {
				t.Fatalf("hint %s offered again after it was dropped", id)
			}
			delivered[id] = true
			if err := s.DropHint(h); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(delivered) != 103 {
		t.Fatalf("%d of b's 103 hints delivered", len(delivered))
	}
	if rest, _ := s.Hints("c", 64); len(rest) != 5 {
		t.Fatalf("c's hints after b's delivery: %d, want 5", len(rest))
	}
}

// TestHintBatchesRotateThroughNamespaces: with more namespaces than one
// batch reaches (256 hints, 32 a namespace: 8), the next batch starts at
// the namespace after the last one served, so two batches serve all ten
// although none was delivered.
func TestHintBatchesRotateThroughNamespaces(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	for n := range 10 {
		for i := range 100 {
			if err := s.StoreHint("b", fmt.Sprintf("ns%02d", n), fmt.Appendf(nil, "k%03d", i), obj, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	served := map[string]bool{}
	for batch := range 2 {
		hints, err := s.Hints("b", 256)
		if err != nil {
			t.Fatal(err)
		}
		if len(hints) != 256 {
			t.Fatalf("batch %d: %d hints, want 256", batch, len(hints))
		}
		for _, h := range hints {
			served[h.Namespace] = true
		}
	}
	if len(served) != 10 {
		t.Fatalf("two batches served %d of 10 namespaces: %v", len(served), served)
	}
}

// TestHintBelowTheFloorIsFound: a batch starts at the first hint the last
// one found (not at the front of the owner's range, where delivered hints
// leave tombstones); a hint created since below it is still offered.
func TestHintBelowTheFloorIsFound(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	for i := 50; i < 100; i++ {
		if err := s.StoreHint("b", "ns", fmt.Appendf(nil, "k%03d", i), obj, false); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.Hints("b", 10)
	if err != nil || len(first) != 10 {
		t.Fatalf("first batch: %d hints, %v", len(first), err)
	}
	for _, h := range first {
		if err := s.DropHint(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StoreHint("b", "ns", []byte("k000"), obj, false); err != nil {
		t.Fatal(err)
	}
	next, err := s.Hints("b", 10)
	if err != nil || len(next) != 10 || string(next[0].Key) != "k000" || string(next[1].Key) != "k060" {
		t.Fatalf("after the first batch was delivered and k000 written: %d hints from %q, %v; want k000, then k060 on", len(next), keyOf(next), err)
	}
}

func keyOf(hs []replica.Hint) string {
	if len(hs) == 0 {
		return ""
	}
	return string(hs[0].Key)
}
