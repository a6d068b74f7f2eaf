package tictac_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/keys"
)

func TestNewSegments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want int
		panics   bool
	}{
		{in: 0, want: tictac.DefaultSegments},
		{in: 1, want: 1},
		{in: 64, want: 64},
		{in: tictac.MaxSegments, want: tictac.MaxSegments},
		{in: 3, panics: true},
		{in: -4, panics: true},
		{in: 2 * tictac.MaxSegments, panics: true},
	} {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r := recover(); (r != nil) != tc.panics {
					t.Fatalf("New(%d) panicked: %v, want panic %v", tc.in, r, tc.panics)
				}
			}()
			tr := tictac.New(tc.in)
			if tr.Len() != tc.want || len(tr.Segments()) != tc.want {
				t.Fatalf("New(%d) has %d segments, want %d", tc.in, tr.Len(), tc.want)
			}
			if slices.ContainsFunc(tr.Segments(), func(s uint64) bool { return s != 0 }) {
				t.Fatal("new tree is not all zero")
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	k, v1, v2 := []byte("ns\x00k"), []byte("one"), []byte("two")
	tr := tictac.New(16)
	seg := tr.SegmentOf(k)

	tr.Update(k, nil, v1)
	if got, want := tr.Segments()[seg], tictac.Hash(k, v1); got != want {
		t.Fatalf("after insert segment %d = %x, want h(k, v1) = %x", seg, got, want)
	}
	tr.Update(k, v1, v1)
	if got, want := tr.Segments()[seg], tictac.Hash(k, v1); got != want {
		t.Fatalf("a no-op update changed the segment to %x", got)
	}
	tr.Update(k, v1, v2)
	if got, want := tr.Segments()[seg], tictac.Hash(k, v2); got != want {
		t.Fatalf("after replace segment %d = %x, want h(k, v2) = %x", seg, got, want)
	}
	tr.Update(k, v2, nil)
	if !tr.Equal(tictac.New(16)) {
		t.Fatal("removing the only key did not empty the tree")
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	if tictac.Hash([]byte("k"), nil) != 0 || tictac.Hash([]byte("k"), []byte{}) != 0 {
		t.Fatal("h(key, absent) is not 0")
	}
	// The length prefix keeps pairs with the same concatenation apart.
	if tictac.Hash([]byte("ab"), []byte("c")) == tictac.Hash([]byte("a"), []byte("bc")) {
		t.Fatal(`h("ab", "c") == h("a", "bc")`)
	}
}

func TestRoot(t *testing.T) {
	t.Parallel()
	a, b := tictac.New(8), tictac.New(8)
	if a.Root() != b.Root() {
		t.Fatal("empty trees have different roots")
	}
	a.Update([]byte("k"), nil, []byte("v"))
	if a.Root() == b.Root() {
		t.Fatal("different trees have the same root")
	}
	b.Update([]byte("k"), nil, []byte("v"))
	if a.Root() != b.Root() || a.Root() != tictac.Root(a.Segments()) {
		t.Fatal("equal trees have different roots")
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b []uint64
		want []int
	}{
		{"empty", nil, nil, nil},
		{"equal", []uint64{1, 2, 3}, []uint64{1, 2, 3}, nil},
		{"some", []uint64{1, 2, 3, 4}, []uint64{1, 5, 3, 6}, []int{1, 3}},
		{"all", []uint64{1, 2}, []uint64{3, 4}, []int{0, 1}},
		{"shorter a", []uint64{1}, []uint64{1, 2, 3}, []int{0, 1, 2}},
		{"shorter b", []uint64{1, 2}, nil, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tictac.Diff(tc.a, tc.b); !slices.Equal(got, tc.want) {
				t.Fatalf("Diff = %v, want %v", got, tc.want)
			}
		})
	}
}

// The segment hash must not reuse the partition bits: the keys of one
// partition must still spread over every segment.
func TestSegmentsSpreadWithinPartition(t *testing.T) {
	t.Parallel()
	const q, segments, want = 64, 256, 16 * 256
	tr := tictac.New(segments)
	hits := make([]int, segments)
	for i, n := 0, 0; n < want; i++ {
		k := fmt.Appendf(nil, "user-%d", i)
		if keys.Partition("ns", k, q) != 7 {
			continue
		}
		n++
		pk := append([]byte("ns\x00"), k...)
		s := tictac.SegmentOf(pk, segments)
		if s != tr.SegmentOf(pk) {
			t.Fatal("SegmentOf and Tree.SegmentOf disagree")
		}
		hits[s]++
	}
	// 16 keys per segment on average; a segment with none, or with four
	// times the mean, would mean the bits are correlated.
	if lo, hi := slices.Min(hits), slices.Max(hits); lo == 0 || hi > 64 {
		t.Fatalf("segment loads range from %d to %d, want spread around 16", lo, hi)
	}
}
