package guesttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/laws"
)

// A Case is one merge of the set-union table.
type Case struct {
	Name     string
	Siblings []abi.Sibling
	Status   abi.Status
	Value    string // for StatusOK
}

// Val returns a live sibling.
func Val(v string) abi.Sibling { return abi.Sibling{Value: []byte(v)} }

// Tomb returns a tombstone.
func Tomb() abi.Sibling { return abi.Sibling{Tombstone: true} }

// SetUnionCases is the table every language's example resolver must pass.
// The merge: values are sets of lines (separated by '\n'; empty lines do not
// count); the result is the union over the live siblings, sorted by bytes
// (so by code point, not by UTF-16 unit), joined with '\n'; all tombstones
// is DELETE. A live empty value is an empty set, not a delete.
var SetUnionCases = []Case{
	{"one value is sorted", []abi.Sibling{Val("b\na")}, abi.StatusOK, "a\nb"},
	{"union", []abi.Sibling{Val("a\nc"), Val("c\nb")}, abi.StatusOK, "a\nb\nc"},
	{"duplicates", []abi.Sibling{Val("x\nx\ny"), Val("y\nx")}, abi.StatusOK, "x\ny"},
	{"tombstones ignored", []abi.Sibling{Val("a"), Tomb(), Val("b")}, abi.StatusOK, "a\nb"},
	{"one tombstone", []abi.Sibling{Tomb()}, abi.StatusDelete, ""},
	{"all tombstones", []abi.Sibling{Tomb(), Tomb(), Tomb()}, abi.StatusDelete, ""},
	{"empty value", []abi.Sibling{Val(""), Tomb()}, abi.StatusOK, ""},
	{"empty lines", []abi.Sibling{Val("a\n\nb\n"), Val("\n"), Val("\nc")}, abi.StatusOK, "a\nb\nc"},
	{"case sensitive", []abi.Sibling{Val("b\nB"), Val("a\nA")}, abi.StatusOK, "A\nB\na\nb"},
	{"byte order", []abi.Sibling{Val("😀\n\uE000"), Val("é\nz"), Val("Z")}, abi.StatusOK, "Z\nz\né\n\uE000\n😀"},
	{"spaces kept", []abi.Sibling{Val(" a"), Val("a "), Val("a")}, abi.StatusOK, " a\na\na "},
	{"many siblings", []abi.Sibling{Val("1"), Val("2"), Tomb(), Val("3\n1"), Val("4"), Val("2\n5")}, abi.StatusOK, "1\n2\n3\n4\n5"},
	{"long value", []abi.Sibling{Val(lines(0, 500)), Val(lines(250, 1000))}, abi.StatusOK, lines(0, 1000)},
}

// lines returns "line-<i>" for i in [from, to), sorted, joined with '\n'.
func lines(from, to int) string {
	l := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		l = append(l, fmt.Sprintf("line-%04d", i))
	}
	return strings.Join(l, "\n")
}

// Compile compiles wasm in a new runtime, failing the test if Compile
// refuses it. The runtime is closed when the test ends.
func Compile(tb testing.TB, wasm []byte, opts resolvers.Options) *resolvers.Module {
	tb.Helper()
	ctx := context.Background()
	rt, err := resolvers.NewRuntime(ctx, opts)
	if err != nil {
		tb.Fatalf("NewRuntime: %v", err)
	}
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Compile(ctx, wasm)
	if err != nil {
		tb.Fatalf("Compile refused the module: %v", err)
	}
	return m
}

// NewPool returns a pool of m for namespace "sets", closed when the test
// ends. Its deadlines are generous (the tests check results, not latency,
// and run on loaded two-core machines, where a Go guest's call on a large
// input occasionally passes the default 100 ms); the other limits are the
// defaults.
func NewPool(tb testing.TB, m *resolvers.Module, config []byte) *resolvers.Pool {
	p := resolvers.NewPool(m, "sets", config, resolvers.Limits{Deadline: 2 * time.Second, InitDeadline: 10 * time.Second})
	tb.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// Resolve calls the pool and fails the test on an error, showing the
// guest's stderr (a Go guest's fatal error or panic lands there).
func Resolve(tb testing.TB, p *resolvers.Pool, siblings []abi.Sibling) resolvers.Result {
	tb.Helper()
	res, err := p.Resolve(context.Background(), abi.Input{Key: []byte("k"), Siblings: siblings})
	if err != nil {
		tb.Fatalf("Resolve: %v%s", err, stderrOf(err))
	}
	return res
}

func stderrOf(err error) string {
	var ce *resolvers.CallError
	if !errors.As(err, &ce) || ce.Stderr == "" {
		return ""
	}
	msg := "\nguest stderr:\n" + ce.Stderr
	if strings.Contains(ce.Stderr, "nanotime returning zero") {
		// Go's runtime refuses a monotonic clock that reads 0 (runtime.main).
		msg += "\nThe runtime's guest monotonic clock reads 0, which the Go runtime refuses: " +
			"resolvers/sandbox.go must return a non-zero constant from WithNanotime (see resolvers/guest/go/README.md)."
	}
	return msg
}

// CheckSetUnion checks a set-union module: Compile accepts it, and every
// case of [SetUnionCases] gives the expected result for every order of the
// siblings, on a pooled instance and on a fresh one. It also checks that
// the merge is idempotent and that merging in two steps gives the same
// result as merging at once.
func CheckSetUnion(t *testing.T, wasm []byte) {
	t.Helper()
	m := Compile(t, wasm, resolvers.Options{})
	pooled := NewPool(t, m, nil)
	first := Resolve(t, pooled, SetUnionCases[0].Siblings) // cold start: fail fast, and once
	t.Logf("module: %d bytes, %d initial pages", len(wasm), pooled.Module().MinMemoryPages())
	if string(first.Value) != SetUnionCases[0].Value {
		t.Fatalf("first call: %s %q, want %q", first.Status, first.Value, SetUnionCases[0].Value)
	}
	for _, tc := range SetUnionCases {
		t.Run(tc.Name, func(t *testing.T) {
			for _, order := range Orders(tc.Siblings) {
				check(t, Resolve(t, pooled, order), tc, order)
			}
			fresh := NewPool(t, m, nil)
			check(t, Resolve(t, fresh, tc.Siblings), tc, tc.Siblings)
		})
	}
	t.Run("laws", func(t *testing.T) {
		CheckLaws(t, wasm, "apple\npear", "fig", "pear\nkiwi\napple", "")
	})
	t.Run("sustained", func(t *testing.T) {
		// Many calls on one instance: memory must be reclaimed between calls
		// (an allocator that never frees runs out of the 16 MiB cap).
		before := pooled.Stats().ColdStarts
		siblings := []abi.Sibling{Val(lines(0, 300)), Val(lines(100, 400)), Val(lines(200, 500))}
		for range 1000 {
			if got := Resolve(t, pooled, siblings); string(got.Value) != lines(0, 500) {
				t.Fatalf("merge = %s %q", got.Status, got.Value)
			}
		}
		if after := pooled.Stats().ColdStarts; after != before {
			t.Errorf("%d cold starts during the calls, want 0", after-before)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		for _, tc := range SetUnionCases {
			if tc.Status != abi.StatusOK {
				continue
			}
			again := []abi.Sibling{Val(tc.Value)}
			check(t, Resolve(t, pooled, again), tc, again)
			twice := []abi.Sibling{Val(tc.Value), Val(tc.Value)}
			check(t, Resolve(t, pooled, twice), tc, twice)
		}
	})
	t.Run("associative", func(t *testing.T) {
		for _, tc := range SetUnionCases {
			if len(tc.Siblings) < 3 || tc.Status != abi.StatusOK {
				continue
			}
			// merge(merge(s0, s1), rest...) == merge(s0, s1, rest...)
			head := Resolve(t, pooled, tc.Siblings[:2])
			var step abi.Sibling
			switch head.Status {
			case abi.StatusOK:
				step = abi.Sibling{Value: head.Value}
			case abi.StatusDelete:
				step = Tomb()
			default:
				t.Fatalf("%s: first two siblings: status %s", tc.Name, head.Status)
			}
			sibs := append([]abi.Sibling{step}, tc.Siblings[2:]...)
			check(t, Resolve(t, pooled, sibs), tc, sibs)
		}
	})
}

func check(t *testing.T, got resolvers.Result, tc Case, siblings []abi.Sibling) {
	t.Helper()
	if got.Status != tc.Status || (tc.Status == abi.StatusOK && string(got.Value) != tc.Value) {
		t.Errorf("%s: merge of %s = %s %q, want %s %q", tc.Name, describe(siblings), got.Status, got.Value, tc.Status, tc.Value)
	}
}

func describe(siblings []abi.Sibling) string {
	parts := make([]string, len(siblings))
	for i, s := range siblings {
		if s.Tombstone {
			parts[i] = "tombstone"
		} else {
			parts[i] = fmt.Sprintf("%q", s.Value)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Orders returns orderings of siblings to try: all of them for up to four
// siblings, otherwise every rotation and its reverse.
func Orders(siblings []abi.Sibling) [][]abi.Sibling {
	n := len(siblings)
	if n <= 4 {
		var out [][]abi.Sibling
		var permute func(s []abi.Sibling, k int)
		permute = func(s []abi.Sibling, k int) {
			if k == n {
				out = append(out, append([]abi.Sibling(nil), s...))
				return
			}
			for i := k; i < n; i++ {
				s[k], s[i] = s[i], s[k]
				permute(s, k+1)
				s[k], s[i] = s[i], s[k]
			}
		}
		permute(append([]abi.Sibling(nil), siblings...), 0)
		return out
	}
	out := make([][]abi.Sibling, 0, 2*n)
	for r := range n {
		rot := append(append([]abi.Sibling(nil), siblings[r:]...), siblings[:r]...)
		rev := make([]abi.Sibling, n)
		for i, s := range rot {
			rev[n-1-i] = s
		}
		out = append(out, rot, rev)
	}
	return out
}

// BenchSetUnion measures a pooled resolve call of a set-union module on 3
// siblings of 20 lines each (overlapping), and reports the module size.
func BenchSetUnion(b *testing.B, wasm []byte) {
	benchSetUnion(b, wasm, 20)
}

// BenchSetUnionLarge is BenchSetUnion on 3 siblings of 200 lines each.
func BenchSetUnionLarge(b *testing.B, wasm []byte) {
	benchSetUnion(b, wasm, 200)
}

func benchSetUnion(b *testing.B, wasm []byte, n int) {
	p := NewPool(b, Compile(b, wasm, resolvers.Options{}), nil)
	siblings := []abi.Sibling{Val(lines(0, n)), Val(lines(n/2, n+n/2)), Val(lines(n, 2*n))}
	if got := Resolve(b, p, siblings); string(got.Value) != lines(0, 2*n) {
		b.Fatalf("merge = %s %q, want %q", got.Status, got.Value, lines(0, 2*n))
	}
	ctx := context.Background()
	in := abi.Input{Key: []byte("k"), Siblings: siblings}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(wasm)), "wasm-bytes")
	if s := p.Stats(); s.ColdStarts != 1 {
		b.Fatalf("%d cold starts, want 1", s.ColdStarts)
	}
}

// CheckLaws runs the server's upload checks on a module and fails on any
// violation: a guest example must be accepted, with no warning either.
func CheckLaws(t *testing.T, wasm []byte, samples ...string) {
	t.Helper()
	ctx := t.Context()
	rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.WithoutCancel(ctx))
	m, err := rt.Compile(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	ss := make([]laws.Sample, len(samples))
	for i, s := range samples {
		ss[i] = laws.Sample(s)
	}
	rep, err := laws.Check(ctx, rt, m, ss, laws.Options{Limits: resolvers.Limits{Deadline: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) > 0 || len(rep.Passed) != len(laws.Laws()) {
		t.Fatalf("the upload checks would not accept the module cleanly:\n%s", rep)
	}
}
