package laws_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/laws"
)

// wat builds a module from WebAssembly text with wat2wasm.
func wat(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// broken is a resolver module with the given memory declaration, extra
// fields and resolve body.
func broken(memory, fields, body string) string {
	return `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") ` + memory + `)
  (global (export "concord_abi_v1") i32 (i32.const 1))
  ` + fields + `
  (func (export "resolve") (param i32) (result i32) ` + body + `))`
}

// TestABIFailuresAreRefused: a module that fails on the uploader's own
// samples, whatever the way, is refused, with the failure named.
func TestABIFailuresAreRefused(t *testing.T) {
	t.Parallel()
	const deadline = 50 * time.Millisecond
	tests := []struct {
		name, module, detail string
		deadline             time.Duration
	}{
		{"always loops", broken("1", "", "(loop $l (br $l)) (i32.const 0)"), "timed out", deadline},
		{"always traps", broken("1", "", "unreachable"), "trapped", deadline},
		{"status 77", broken("1", "", "(i32.const 77)"), "returned status 77", deadline},
		{"proc_exit", broken("1", "", "(call $exit (i32.const 3)) (i32.const 0)"), "called proc_exit", deadline},
		// A generous deadline: the stack budget, not the clock, stops it.
		{"recurses without end", broken("1", "(func $r (result i32) (i32.add (call $r) (i32.const 1)))", "(call $r)"), "stack budget", 5 * time.Second},
		{"needs 60000 pages", broken("60000", "", "(i32.const 0)"), "could not be instantiated", deadline},
		{"loops in its start function", broken("1", "(func $start (loop $l (br $l))) (start $start)", "(i32.const 0)"), "timed out", deadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mod, err := rt.Compile(t.Context(), wat(t, tt.module))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			defer mod.Close(t.Context())
			// The namespace's own limits, tight: the upload is judged by them.
			limits := resolvers.Limits{Deadline: tt.deadline, InitDeadline: 200 * time.Millisecond, MemoryPages: 256}
			r, err := laws.Check(t.Context(), rt, mod, texts("a", "b", "c"), laws.Options{Limits: limits, Namespace: "test"})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			v, ok := r.ViolationOf(laws.LawABI)
			if !ok || !r.Refused() {
				t.Fatalf("want a refusal for an abi violation:\n%s", r)
			}
			if !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", v.Detail, tt.detail)
			}
		})
	}
}

// TestLimitsAreTheNamespaces: a module that needs more memory than the
// namespace allows is refused for that namespace, and accepted for one that
// allows it.
func TestLimitsAreTheNamespaces(t *testing.T) {
	t.Parallel()
	mod, err := rt.Compile(t.Context(), wat(t, broken("300", "", "(i32.const 2)")))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(t.Context())
	for _, tt := range []struct {
		pages   uint32
		refused bool
	}{{256, true}, {512, false}} {
		r, err := laws.Check(t.Context(), rt, mod, texts("a", "b"), laws.Options{Limits: resolvers.Limits{MemoryPages: tt.pages}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Refused() != tt.refused {
			t.Errorf("%d pages: Refused() = %v, want %v:\n%s", tt.pages, r.Refused(), tt.refused, r)
		}
	}
}
