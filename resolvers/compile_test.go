package resolvers_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers"
)

func TestCompileAccepts(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, resolvers.Options{})
	for _, tt := range []struct {
		name     string
		minPages uint32
	}{
		{"longest", 1},     // function marker
		{"hostile", 2},     // global marker, WASI, env.abort, init
		{"big_memory", 64}, // large initial memory
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wasm := wasmOf(t, tt.name)
			m, err := rt.Compile(t.Context(), wasm)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if m.Hash() != sha256.Sum256(wasm) {
				t.Errorf("Hash = %s, want SHA-256 of the bytes", m.Hash())
			}
			if m.Size() != len(wasm) || m.MinMemoryPages() != tt.minPages {
				t.Errorf("Size, MinMemoryPages = %d, %d; want %d, %d", m.Size(), m.MinMemoryPages(), len(wasm), tt.minPages)
			}
		})
	}
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, resolvers.Options{})
	tooLarge := make([]byte, resolvers.MaxModuleBytes+1)
	copy(tooLarge, "\x00asm\x01\x00\x00\x00")
	longest := modules["longest"]
	tests := []struct {
		name string
		wasm []byte
		want []string // substrings, one per expected problem
	}{
		{"not WebAssembly", []byte("(module)"), []string{"not WebAssembly"}},
		{"empty", nil, []string{"not WebAssembly"}},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), []string{"component-model binary"}},
		{"truncated", longest[:len(longest)-3], []string{"not valid WebAssembly"}},
		{"too large", tooLarge, []string{"too large: 8388609 bytes > 8 MiB"}},
		{"no marker", wasmOf(t, "no_marker"), []string{`missing export "concord_abi_v1"`}},
		{"wrong resolve signature", wasmOf(t, "bad_resolve"), []string{`export "resolve" has signature (i64) -> (i32), want (i32) -> (i32)`}},
		{"forbidden import", wasmOf(t, "forbidden_import"), []string{"import env.fd_open not allowed"}},
		{"wrong import signature", wasmOf(t, "bad_import_sig"), []string{"import concord.input_read has signature (i64, i32) -> (i32), want (i32, i32) -> (i32)"}},
		{"imported memory", wasmOf(t, "import_memory"), []string{"import env.memory is a memory", `missing export "memory"`}},
		{"many problems", wasmOf(t, "many_problems"), []string{
			`missing export "concord_abi_v1"`,
			`export "resolve" has signature () -> (i32)`,
			`export "init" has signature (i32) -> (), want () -> (i32)`,
			`missing export "memory"`,
			"import wasi_snapshot_preview1.sock_accept not allowed: resolvers have no network access",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rt.Compile(t.Context(), tt.wasm)
			if !errors.Is(err, resolvers.ErrInvalidModule) {
				t.Fatalf("Compile = %v, want ErrInvalidModule", err)
			}
			var me *resolvers.ModuleError
			if !errors.As(err, &me) {
				t.Fatalf("Compile error %T is not a *ModuleError", err)
			}
			if len(me.Problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d: %q", len(me.Problems), len(tt.want), me.Problems)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}
