package cguesttest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/guest/internal/guesttest"
	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// build compiles C sources with ../build.sh, failing (not skipping) when
// the toolchain is missing.
func build(t testing.TB, sources ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatalf("clang not found (%v): install it with apt-get install clang lld", err)
	}
	out := filepath.Join(t.TempDir(), "module.wasm")
	args := append([]string{filepath.Join("..", "build.sh"), out}, sources...)
	if msg, err := exec.Command("bash", args...).CombinedOutput(); err != nil {
		t.Fatalf("build.sh %s: %v\n%s", strings.Join(sources, " "), err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// newPool builds and compiles sources and returns a pool of them (breaker
// disabled), closed when the test ends.
func newPool(t *testing.T, config []byte, sources ...string) *resolvers.Pool {
	t.Helper()
	wasm := build(t, sources...)
	s, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range s.Imports {
		if imp.Module != "concord" {
			t.Errorf("module imports %s.%s; the C guest library imports only concord.*", imp.Module, imp.Name)
		}
	}
	ctx := context.Background()
	rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Compile(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return resolvers.NewPool(m, "ns1", config, resolvers.Limits{Deadline: time.Second}, resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
}

func resolve(t *testing.T, p *resolvers.Pool, key string, siblings ...abi.Sibling) string {
	t.Helper()
	res, err := p.Resolve(context.Background(), abi.Input{Key: []byte(key), Siblings: siblings})
	var ce *resolvers.CallError
	switch {
	case errors.As(err, &ce) && ce.Kind == resolvers.KindGuestError:
		return "ERROR"
	case err != nil:
		t.Fatalf("resolve: %v", err)
	case res.Status == abi.StatusOK:
		return string(res.Value)
	}
	return res.Status.String()
}

func live(ts int64, v string) abi.Sibling { return abi.Sibling{Value: []byte(v), Timestamp: ts} }
func tomb(ts int64) abi.Sibling           { return abi.Sibling{Tombstone: true, Timestamp: ts} }

// TestExampleLongest runs the README's example, example/longest.c.
func TestExampleLongest(t *testing.T) {
	t.Parallel()
	p := newPool(t, nil, filepath.Join("..", "example", "longest.c"))
	cases := []struct {
		name     string
		siblings []abi.Sibling
		want     string
	}{
		{"longest wins", []abi.Sibling{live(1, "apple"), live(2, "banana"), tomb(3)}, "banana"},
		{"ties: greater bytes", []abi.Sibling{live(1, "pear"), live(1, "plum"), live(1, "fig")}, "plum"},
		{"empty value", []abi.Sibling{live(1, ""), tomb(1)}, ""},
		{"only tombstones", []abi.Sibling{tomb(1), tomb(2)}, "DELETE"},
		{"no siblings", nil, "DEFER"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range max(1, len(c.siblings)) {
				rotated := slices.Concat(c.siblings[i:], c.siblings[:i])
				if got := resolve(t, p, "k", rotated...); got != c.want {
					t.Errorf("rotation %d: got %q, want %q", i, got, c.want)
				}
			}
		})
	}
}

// TestLibrary checks what the library gives a resolver: the parsed input,
// the config, init's allocations surviving calls, sorting, large output and
// memory growth, and every status.
func TestLibrary(t *testing.T) {
	t.Parallel()
	p := newPool(t, []byte("cfg=1"), filepath.Join("testdata", "probe.c"))

	got := resolve(t, p, "user:42", live(5, "b"), tomb(-3), live(1<<62, "a"), live(-1, "c"))
	want := "ns=ns1 key=user:42 config=cfg=1 init=ok -@-3 a@4611686018427387904 b@5 c@-1"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// Again on the reused instance, after a call that grew memory.
	if big := resolve(t, p, "big"); len(big) != 100000 || big[:3] != "abc" || big[99999] != 'a'+99999%26 {
		t.Fatalf("big: %d bytes %.10q", len(big), big)
	}
	if again := resolve(t, p, "user:42", live(5, "b"), tomb(-3), live(1<<62, "a"), live(-1, "c")); again != got {
		t.Fatalf("reused instance: %q, first call %q", again, got)
	}

	// Many siblings with equal values: the sort is stable (tombstone and
	// timestamps keep their input order among equal values).
	var many []abi.Sibling
	var wantMany strings.Builder
	wantMany.WriteString("ns=ns1 key=k config=cfg=1 init=ok")
	for i := range 300 {
		many = append(many, live(int64(i), string(rune('a'+(299-i)/100))))
	}
	for v := range 3 {
		for i := range 300 {
			if (299-i)/100 == v {
				wantMany.WriteString(" " + string(rune('a'+v)) + "@" + strconv.Itoa(i))
			}
		}
	}
	if got := resolve(t, p, "k", many...); got != wantMany.String() {
		t.Fatalf("300 siblings: got %.200q...", got)
	}

	for key, status := range map[string]string{"defer": "DEFER", "error": "ERROR", "delete": "DELETE"} {
		if got := resolve(t, p, key, live(1, "x")); got != status {
			t.Errorf("key %s: got %s, want %s", key, got, status)
		}
	}
}

// TestBuildIsReproducible builds the example twice from different working
// directories and compares the bytes.
func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	a := build(t, filepath.Join("..", "example", "longest.c"))
	abs, err := filepath.Abs(filepath.Join("..", "example", "longest.c"))
	if err != nil {
		t.Fatal(err)
	}
	b := build(t, abs)
	if !slices.Equal(a, b) {
		t.Fatalf("two builds of example/longest.c differ (%d and %d bytes)", len(a), len(b))
	}
}

// TestExamplePassesTheUploadChecks: the C example is accepted by the
// server's law checks with no warning.
func TestExamplePassesTheUploadChecks(t *testing.T) {
	t.Parallel()
	guesttest.CheckLaws(t, build(t, filepath.Join("..", "example", "longest.c")), "apple", "banana", "fig", "plum", "")
}

// setUnion is the set-union example every guest language has.
var setUnion = &guesttest.Module{Build: func(tb testing.TB, dir string) string {
	out := filepath.Join(dir, "setunion.wasm")
	if err := os.WriteFile(out, build(tb, filepath.Join("..", "example", "setunion.c")), 0o644); err != nil {
		tb.Fatal(err)
	}
	return out
}}

func TestExampleSetUnion(t *testing.T) {
	t.Parallel()
	guesttest.CheckSetUnion(t, setUnion.Wasm(t))
}

func BenchmarkSetUnion(b *testing.B) {
	guesttest.BenchSetUnion(b, setUnion.Wasm(b))
}

func BenchmarkSetUnionLarge(b *testing.B) {
	guesttest.BenchSetUnionLarge(b, setUnion.Wasm(b))
}
