package builtin_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// A spec describes a built-in for the property tests: a generator of valid
// values (encoded with random member order, escapes and whitespace) and a Go
// model of its merge, which gives the expected outcome (as outcome renders
// it) of any siblings.
type spec struct {
	module string
	value  *rapid.Generator[string]
	model  func(siblings []abi.Sibling) string
}

var specs = []spec{
	{"lww", rapid.OneOf(rapid.SampledFrom([]string{"", "a", "b", "ab"}), rapid.StringN(0, 8, -1)), modelLWW},
	{"set-union", jsonOf(rapid.SliceOfN(word, 0, 6)), modelSetUnion},
	{"counter", jsonOf(genCounter), modelCounter},
	{"shopping-cart", jsonOf(genCart), modelCart},
}

// word draws from a small alphabet, so that values overlap, with escapes and
// non-ASCII, and sometimes any string.
var word = rapid.OneOf(
	rapid.SampledFrom([]string{"", "a", "b", "ab", "B", "é", "😀", `"`, `\`, "\n", "\x01", "\x7f", "<&>"}),
	rapid.StringN(0, 6, -1),
)

var count = rapid.OneOf(rapid.Uint64Range(0, 5), rapid.Uint64Range(0, 1<<53-1))

var genCounter = rapid.Custom(func(t *rapid.T) map[string]any {
	v := map[string]any{}
	for _, member := range []string{"p", "n"} {
		if rapid.IntRange(0, 4).Draw(t, "has "+member) > 0 {
			v[member] = rapid.MapOfN(word, count, 0, 4).Draw(t, member)
		}
	}
	return v
})

var genCart = rapid.Custom(func(t *rapid.T) map[string]any {
	tag := rapid.SampledFrom([]string{"t1", "t2", "t3", "t4", "t5", "t6", "é"})
	v := map[string]any{}
	if rapid.IntRange(0, 4).Draw(t, "has items") > 0 {
		items := map[string]any{}
		for _, sku := range rapid.SliceOfNDistinct(word, 0, 4, rapid.ID).Draw(t, "skus") {
			items[sku] = rapid.MapOfN(tag, rapid.Uint64Range(0, 5), 0, 3).Draw(t, "tags")
		}
		v["items"] = items
	}
	if rapid.IntRange(0, 4).Draw(t, "has removed") > 0 {
		v["removed"] = rapid.SliceOfN(tag, 0, 4).Draw(t, "removed")
	}
	return v
})

// genSiblings draws 1-4 siblings of a spec: live (with a value) or
// tombstones, with timestamps that often tie.
func (s spec) genSiblings(t *rapid.T, label string) []abi.Sibling {
	n := rapid.IntRange(1, 4).Draw(t, label+" count")
	sibs := make([]abi.Sibling, n)
	for i := range sibs {
		sibs[i].Timestamp = rapid.Int64Range(-2, 3).Draw(t, label+" timestamp")
		if rapid.IntRange(0, 5).Draw(t, label+" tombstone") == 0 {
			sibs[i].Tombstone = true
		} else {
			sibs[i].Value = []byte(s.value.Draw(t, label+" value"))
		}
	}
	return sibs
}

// jsonOf draws values of g and encodes them with encodeJSON.
func jsonOf[V any](g *rapid.Generator[V]) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string { return encodeJSON(t, g.Draw(t, "value")) })
}

// encodeJSON encodes maps, slices, strings and integers with member order,
// string escapes and whitespace drawn at random.
func encodeJSON(t *rapid.T, v any) string {
	var b strings.Builder
	ws := func() {
		b.WriteString(rapid.SampledFrom([]string{"", "", "", " ", "\n\t", "\r\n "}).Draw(t, "whitespace"))
	}
	var enc func(v any)
	enc = func(v any) {
		ws()
		switch v := v.(type) {
		case string:
			if rapid.Bool().Draw(t, "escape all") {
				b.WriteByte('"')
				for _, u := range utf16.Encode([]rune(v)) {
					fmt.Fprintf(&b, `\u%04X`, u)
				}
				b.WriteByte('"')
			} else {
				q, _ := json.Marshal(v)
				b.Write(q)
			}
		case uint64:
			fmt.Fprint(&b, v)
		case []string:
			b.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				enc(e)
			}
			ws()
			b.WriteByte(']')
		case map[string]any, map[string]uint64:
			m := toAnyMap(v)
			keys := rapid.Permutation(slices.Sorted(maps.Keys(m))).Draw(t, "member order")
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				enc(k)
				ws()
				b.WriteByte(':')
				enc(m[k])
			}
			ws()
			b.WriteByte('}')
		default:
			panic(fmt.Sprintf("encodeJSON: %T", v))
		}
		ws()
	}
	enc(v)
	return b.String()
}

func toAnyMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	for k, n := range v.(map[string]uint64) {
		m[k] = n
	}
	return m
}

// canonString quotes s the way the built-ins print strings.
func canonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(s) {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// canonCounts prints {"id":n,...} sorted by id.
func canonCounts(m map[string]uint64) string {
	parts := []string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, canonString(k)+":"+fmt.Sprint(m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func canonArray(set map[string]bool) string {
	parts := []string{}
	for _, s := range slices.Sorted(maps.Keys(set)) {
		parts = append(parts, canonString(s))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// liveValues returns the decoded live values, or the outcome when there are
// none: DEFER without siblings, DELETE with only tombstones.
func liveValues[V any](siblings []abi.Sibling) ([]V, string) {
	if len(siblings) == 0 {
		return nil, "DEFER"
	}
	var vs []V
	anyLive := false
	for _, s := range siblings {
		if s.Tombstone {
			continue
		}
		anyLive = true
		var v V
		if len(s.Value) > 0 {
			if err := json.Unmarshal(s.Value, &v); err != nil {
				panic(fmt.Sprintf("model: generated value %q: %v", s.Value, err))
			}
		}
		vs = append(vs, v)
	}
	if !anyLive {
		return nil, "DELETE"
	}
	return vs, ""
}

func modelLWW(siblings []abi.Sibling) string {
	if len(siblings) == 0 {
		return "DEFER"
	}
	w := slices.MaxFunc(siblings, func(a, b abi.Sibling) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), strings.Compare(string(a.Value), string(b.Value)),
			cmp.Compare(btoi(a.Tombstone), btoi(b.Tombstone)))
	})
	if w.Tombstone {
		return "DELETE"
	}
	return string(w.Value)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func modelSetUnion(siblings []abi.Sibling) string {
	vs, status := liveValues[[]string](siblings)
	if status != "" {
		return status
	}
	set := map[string]bool{}
	for _, v := range vs {
		for _, s := range v {
			set[s] = true
		}
	}
	return canonArray(set)
}

func modelCounter(siblings []abi.Sibling) string {
	type counter struct{ P, N map[string]uint64 }
	vs, status := liveValues[counter](siblings)
	if status != "" {
		return status
	}
	p, n := map[string]uint64{}, map[string]uint64{}
	for _, v := range vs {
		for id, c := range v.P {
			p[id] = max(p[id], c)
		}
		for id, c := range v.N {
			n[id] = max(n[id], c)
		}
	}
	return `{"n":` + canonCounts(n) + `,"p":` + canonCounts(p) + `}`
}

func modelCart(siblings []abi.Sibling) string {
	type cart struct {
		Items   map[string]map[string]uint64
		Removed []string
	}
	vs, status := liveValues[cart](siblings)
	if status != "" {
		return status
	}
	removed := map[string]bool{}
	for _, v := range vs {
		for _, tag := range v.Removed {
			removed[tag] = true
		}
	}
	items := map[string]map[string]uint64{}
	for _, v := range vs {
		for sku, tags := range v.Items {
			for tag, qty := range tags {
				if removed[tag] {
					continue
				}
				if items[sku] == nil {
					items[sku] = map[string]uint64{}
				}
				items[sku][tag] = max(items[sku][tag], qty)
			}
		}
	}
	parts := []string{}
	for _, sku := range slices.Sorted(maps.Keys(items)) {
		parts = append(parts, canonString(sku)+":"+canonCounts(items[sku]))
	}
	return `{"items":{` + strings.Join(parts, ",") + `},"removed":` + canonArray(removed) + `}`
}

// feedBack is the sibling a resolution's outcome becomes when it meets
// other versions later: its value (or a tombstone), stamped with the
// largest timestamp of what it merged (the winner's, for lww).
func feedBack(t *rapid.T, result string, merged []abi.Sibling) abi.Sibling {
	ts := slices.MaxFunc(merged, func(a, b abi.Sibling) int { return cmp.Compare(a.Timestamp, b.Timestamp) }).Timestamp
	switch result {
	case "DELETE":
		return abi.Sibling{Tombstone: true, Timestamp: ts}
	case "DEFER", "ERROR":
		t.Fatalf("cannot feed back %s", result)
	}
	return abi.Sibling{Value: []byte(result), Timestamp: ts}
}

func concat(groups ...[]abi.Sibling) []abi.Sibling { return slices.Concat(groups...) }

// TestMergeLaws checks each built-in against its model and the laws the
// server checks at upload: the result does not depend on sibling order, is
// deterministic (fresh instance or reused), and merging is idempotent and
// associative when a result is fed back as a sibling.
func TestMergeLaws(t *testing.T) {
	t.Parallel()
	for _, s := range specs {
		t.Run(s.module, func(t *testing.T) {
			t.Parallel()
			warm := newPool(t, s.module)
			merge := func(t *rapid.T, siblings []abi.Sibling) string {
				return outcome(warm.Resolve(context.Background(), abi.Input{Key: []byte("k"), Siblings: siblings}))
			}
			rapid.Check(t, func(t *rapid.T) {
				a, b, c := s.genSiblings(t, "a"), s.genSiblings(t, "b"), s.genSiblings(t, "c")
				all := concat(a, b, c)

				want := s.model(all)
				if got := merge(t, all); got != want {
					t.Fatalf("merge = %s, model says %s", got, want)
				}
				if got := merge(t, rapid.Permutation(all).Draw(t, "order")); got != want {
					t.Fatalf("permuted: merge = %s, want %s", got, want)
				}
				if got := merge(t, all); got != want {
					t.Fatalf("repeated: merge = %s, want %s", got, want)
				}

				m := feedBack(t, want, all)
				for _, x := range [][]abi.Sibling{{m}, {m, m}, concat(all, []abi.Sibling{m})} {
					if got := merge(t, x); got != want {
						t.Fatalf("idempotence: merge(%d siblings incl. the merge) = %s, want %s", len(x), got, want)
					}
				}

				ab, bc := concat(a, b), concat(b, c)
				left := merge(t, concat([]abi.Sibling{feedBack(t, merge(t, ab), ab)}, c))
				right := merge(t, concat(a, []abi.Sibling{feedBack(t, merge(t, bc), bc)}))
				if left != want || right != want {
					t.Fatalf("associativity: merge(merge(a,b),c) = %s, merge(a,merge(b,c)) = %s, merge(a,b,c) = %s", left, right, want)
				}
			})
		})
	}
}

// TestFreshEqualsPooled compares a fresh instance's result with a reused
// one's, after the reused one merged other values.
func TestFreshEqualsPooled(t *testing.T) {
	t.Parallel()
	for _, s := range specs {
		t.Run(s.module, func(t *testing.T) {
			t.Parallel()
			warm := newPool(t, s.module)
			rapid.Check(t, func(t *rapid.T) {
				ctx := context.Background()
				before, siblings := s.genSiblings(t, "before"), s.genSiblings(t, "siblings")
				_, _ = warm.Resolve(ctx, abi.Input{Siblings: before})
				pooled := outcome(warm.Resolve(ctx, abi.Input{Siblings: siblings}))
				fresh := resolvers.NewPool(compiled[s.module], "test", nil, resolvers.Limits{})
				defer fresh.Close(ctx)
				if got := outcome(fresh.Resolve(ctx, abi.Input{Siblings: siblings})); got != pooled {
					t.Fatalf("fresh instance: %s, reused: %s", got, pooled)
				}
			})
		})
	}
}
