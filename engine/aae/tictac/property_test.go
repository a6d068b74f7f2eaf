package tictac_test

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/aae/tictac"
)

// The generators are made per use: a rapid generator shared by parallel
// tests races on its lazy initialisation.

func genSegments() *rapid.Generator[int] { return rapid.SampledFrom([]int{1, 2, 16, 1024}) }

func genKey() *rapid.Generator[string] {
	return rapid.SampledFrom([]string{"", "a", "ns\x00a", "ns\x00b", "ns\x00ab", "other\x00a", "x\x00\x00", "long-namespace\x00key-0123456789"})
}

func genObject() *rapid.Generator[[]byte] { return rapid.SliceOfN(rapid.Byte(), 1, 40) }

// genData draws a final state of a partition: keys with objects.
func genData(t *rapid.T, label string) map[string][]byte {
	return rapid.MapOf(genKey(), genObject()).Draw(t, label)
}

func TestTreeIsOrderFree(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		segments := genSegments().Draw(t, "segments")
		data := genData(t, "data")
		ks := slices.Sorted(maps.Keys(data))
		perm := rapid.Permutation(ks).Draw(t, "order")
		sorted, shuffled := tictac.New(segments), tictac.New(segments)
		for i := range ks {
			sorted.Update([]byte(ks[i]), nil, data[ks[i]])
			shuffled.Update([]byte(perm[i]), nil, data[perm[i]])
		}
		if !sorted.Equal(shuffled) || sorted.Root() != shuffled.Root() {
			t.Fatalf("insertion order changed the tree: %v", tictac.Diff(sorted.Segments(), shuffled.Segments()))
		}
	})
}

// Any history of writes and removals ending in a state gives the tree built
// from that state directly.
func TestTreeIncrementalEqualsBuilt(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		segments := genSegments().Draw(t, "segments")
		tr := tictac.New(segments)
		state := map[string][]byte{}
		for range rapid.IntRange(0, 60).Draw(t, "ops") {
			k := genKey().Draw(t, "key")
			var next []byte // remove
			if rapid.Float64Range(0, 1).Draw(t, "p") < 0.8 {
				next = genObject().Draw(t, "object")
			}
			tr.Update([]byte(k), state[k], next)
			if next == nil {
				delete(state, k)
			} else {
				state[k] = next
			}
		}
		if built := treeOf(segments, state); !tr.Equal(built) {
			t.Fatalf("incremental tree differs from built tree in %v", tictac.Diff(tr.Segments(), built.Segments()))
		}
	})
}

// Diff reports exactly the segments of the keys whose objects differ.
func TestDiffFindsDivergentKeys(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		segments := genSegments().Draw(t, "segments")
		a := genData(t, "a")
		b := maps.Clone(a)
		for range rapid.IntRange(0, 5).Draw(t, "changes") {
			k := genKey().Draw(t, "key")
			if rapid.Bool().Draw(t, "remove") {
				delete(b, k)
			} else {
				b[k] = genObject().Draw(t, "object")
			}
		}
		want := map[int]bool{}
		for k := range joinKeys(a, b) {
			if !slices.Equal(a[k], b[k]) {
				want[tictac.SegmentOf([]byte(k), segments)] = true
			}
		}
		got := tictac.Diff(treeOf(segments, a).Segments(), treeOf(segments, b).Segments())
		if !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("Diff = %v, want %v", got, slices.Sorted(maps.Keys(want)))
		}
	})
}

// treeOf builds a tree from a partition's final state.
func treeOf(segments int, objs map[string][]byte) *tictac.Tree {
	t := tictac.New(segments)
	for k, o := range objs {
		t.Update([]byte(k), nil, o)
	}
	return t
}

// joinKeys is the set of keys of a and b.
func joinKeys(a, b map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
