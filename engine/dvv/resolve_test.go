package dvv_test

import (
	"bytes"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/dvv"
)

// mergeAll is a stand-in resolver: the largest value wins (commutative,
// associative, idempotent).
func mergeAll(o dvv.Object) dvv.Sibling {
	var best dvv.Sibling
	for _, s := range o.Siblings() {
		if bytes.Compare(s.Value, best.Value) > 0 {
			best = s
		}
	}
	return dvv.Sibling{Value: best.Value}
}

// concatAll is a stand-in resolver whose output is a new value.
func concatAll(o dvv.Object) dvv.Sibling {
	var vs [][]byte
	for _, s := range o.Siblings() {
		vs = append(vs, s.Value)
	}
	slices.SortFunc(vs, bytes.Compare)
	vs = slices.CompactFunc(vs, bytes.Equal)
	return dvv.Sibling{Value: bytes.Join(vs, []byte(","))}
}

// TestIndependentResolutionsConverge: replicas holding the same siblings
// resolve on their own (as different actors) and, after syncing and at most
// one more resolution each, hold equal objects with one visible value.
func TestIndependentResolutionsConverge(t *testing.T) {
	t.Parallel()
	for name, resolver := range map[string]func(dvv.Object) dvv.Sibling{"keeps a sibling": mergeAll, "new value": concatAll} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rapid.Check(t, func(t *rapid.T) {
				actors := []string{"a", "b", "c"}
				var o dvv.Object
				for i := range rapid.IntRange(2, 6).Draw(t, "writes") {
					actor := rapid.SampledFrom(actors).Draw(t, "actor")
					v := rapid.SampledFrom([]string{"x", "y", "z", "w"}).Draw(t, "value")
					_ = i
					o = o.Update(actor, dvv.Clock{}, dvv.Sibling{Value: []byte(v), Timestamp: int64(i)})
				}
				if o.Len() < 2 {
					return
				}
				r1 := o.Resolve("a", resolver(o))
				r2 := o.Resolve("b", resolver(o))
				for round := 0; round < 3 && !r1.Equal(r2); round++ {
					m := dvv.Sync(r1, r2)
					r1 = m.Resolve("a", resolver(m))
					r2 = m.Resolve("b", resolver(m))
				}
				if !r1.Equal(r2) {
					t.Fatalf("replicas did not converge: %v vs %v", r1.Siblings(), r2.Siblings())
				}
				if r1.Distinct() != 1 {
					t.Fatalf("converged object shows %d values", r1.Distinct())
				}
				if got, want := string(r1.Siblings()[0].Value), string(resolver(o).Value); got != want {
					t.Fatalf("resolved to %q, want %q", got, want)
				}
				if !r1.Context().Descends(o.Context()) {
					t.Fatalf("resolution lost causal history")
				}
			})
		})
	}
}

func TestResolveKeepsOneSiblingWithoutNewDot(t *testing.T) {
	t.Parallel()
	var o dvv.Object
	o = o.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	o = o.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("y")})
	r := o.Resolve("c", dvv.Sibling{Value: []byte("y")})
	if r.Len() != 1 || string(r.Siblings()[0].Value) != "y" {
		t.Fatalf("siblings after resolve: %v", r.Siblings())
	}
	if !r.Context().Equal(o.Context()) {
		t.Fatalf("keeping a sibling must not issue a dot: %v → %v", o.Context(), r.Context())
	}
	// A later sync with the unresolved object keeps the resolution.
	if s := dvv.Sync(o, r); !s.Equal(r) {
		t.Fatalf("sync with the unresolved object: %v", s.Siblings())
	}
	// A single sibling needs nothing.
	one := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	if !one.Resolve("a", dvv.Sibling{Value: []byte("zzz")}).Equal(one) {
		t.Fatal("resolving one sibling changed it")
	}
}
