package resolvers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
)

// Building modules byte by byte: a valid resolver (memory, marker, a
// resolve returning DEFER) plus extra functions of type () -> ().

func leb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, leb(uint64(len(body)))...), body...)
}

func vec(n int, items []byte) []byte { return append(leb(uint64(n)), items...) }

func name(s string) []byte { return append(leb(uint64(len(s))), s...) }

// fn is an extra function: its i32 locals and its instructions (without
// the final end).
type fn struct {
	locals int
	code   []byte
}

// resolverWith returns a resolver module with the extra functions.
func resolverWith(extra ...fn) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, vec(2, []byte{0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 0}))...) // (i32)->i32, ()->()
	funcs := []byte{0}
	for range extra {
		funcs = append(funcs, 1)
	}
	m = append(m, section(3, vec(len(funcs), funcs))...)
	m = append(m, section(5, vec(1, []byte{0, 1}))...)                   // memory 1
	m = append(m, section(6, vec(1, []byte{0x7f, 0, 0x41, 1, 0x0b}))...) // global i32 1
	exports := append(name("memory"), 2, 0)                              // memory 0
	exports = append(append(exports, name("concord_abi_v1")...), 3, 0)   // global 0
	exports = append(append(exports, name("resolve")...), 0, 0)          // func 0
	m = append(m, section(7, vec(3, exports))...)
	bodies := []byte{}
	body := []byte{0, 0x41, 2, 0x0b} // resolve: no locals, i32.const 2
	bodies = append(bodies, append(leb(uint64(len(body))), body...)...)
	for _, f := range extra {
		body := []byte{0}
		if f.locals > 0 {
			body = append(append([]byte{1}, leb(uint64(f.locals))...), 0x7f)
		}
		body = append(append(body, f.code...), 0x0b)
		bodies = append(bodies, append(leb(uint64(len(body))), body...)...)
	}
	return append(m, section(10, vec(len(funcs), bodies))...)
}

// nest returns depth nested constructs of op (0x02 block, 0x03 loop) around
// inner.
func nest(op byte, depth int, inner []byte) []byte {
	var b []byte
	for range depth {
		b = append(b, op, 0x40)
	}
	b = append(b, inner...)
	for range depth {
		b = append(b, 0x0b)
	}
	return b
}

// touch returns code that adds 1 to each of n locals.
func touch(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, 0x20)
		b = append(b, leb(uint64(i))...)
		b = append(b, 0x41, 1, 0x6a, 0x21)
		b = append(b, leb(uint64(i))...)
	}
	return b
}

func repeat(n int, f fn) []fn {
	out := make([]fn, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func straight(n int) []byte {
	b := make([]byte, 0, 3*n)
	for range n {
		b = append(b, 0x41, 1, 0x1a) // i32.const 1, drop
	}
	return b
}

// TestCompileRefusesCostlyShapes: modules whose compilation would take
// seconds to minutes are refused before compiling, with the reason.
func TestCompileRefusesCostlyShapes(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, resolvers.Options{})
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"deep nesting", resolverWith(fn{code: nest(0x02, resolvers.MaxNesting+1, nil)}), "nests blocks too deeply"},
		{"many locals", resolverWith(fn{locals: resolvers.MaxLocals + 1}), "too many locals"},
		{"large function", resolverWith(fn{code: straight(resolvers.MaxFunctionBytes / 3)}), "is too large"},
		{"many functions", resolverWith(repeat(resolvers.MaxFunctions, fn{})...), "too many functions"},
		{"costly in total", resolverWith(repeat(30, fn{code: nest(0x03, 1000, nil)})...), "too costly to compile"},
		{"locals across loops", resolverWith(repeat(20, fn{locals: 4000, code: nest(0x03, 50, touch(4000))})...), "too costly to compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := rt.Compile(t.Context(), tt.wasm)
			t.Logf("%d bytes refused in %v", len(tt.wasm), time.Since(start))
			if !errors.Is(err, resolvers.ErrInvalidModule) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile = %v, want an invalid module: %q", err, tt.want)
			}
		})
	}
}

// worstShapes are modules just within the shape limits, each worst for one
// cost of compilation; BenchmarkCompileWorst measures them.
func worstShapes() map[string][]byte {
	return map[string][]byte{
		// Quadratic in nesting: as many max-depth nests of loops as the
		// budget allows.
		"nested loops": resolverWith(repeat(16, fn{code: nest(0x03, resolvers.MaxNesting, nil)})...),
		// Locals live across nested loops.
		"locals in loops": resolverWith(repeat(1, fn{locals: resolvers.MaxLocals, code: nest(0x03, 40, touch(2000))})...),
		// Straight code up to the size limit.
		"straight code": resolverWith(repeat(22, fn{code: straight(resolvers.MaxFunctionBytes/3 - 10)})...),
		// Small functions, many of them.
		"many functions": resolverWith(repeat(resolvers.MaxFunctions-1, fn{code: straight(10)})...),
	}
}

// TestWorstShapesAreAccepted keeps worstShapes honest: each is accepted.
func TestWorstShapesAreAccepted(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, resolvers.Options{})
	for name, wasm := range worstShapes() {
		start := time.Now()
		m, err := rt.Compile(t.Context(), wasm)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%s: %d bytes compiled in %v", name, len(wasm), time.Since(start))
		_ = m.Close(t.Context())
	}
}

// BenchmarkCompileWorst compiles the worst modules the shape limits allow
// (each in a new runtime: no compilation cache).
func BenchmarkCompileWorst(b *testing.B) {
	for name, wasm := range worstShapes() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Compile(ctx, wasm); err != nil {
					b.Fatal(err)
				}
				_ = rt.Close(ctx)
			}
			b.ReportMetric(float64(len(wasm)), "wasm-bytes")
		})
	}
}
