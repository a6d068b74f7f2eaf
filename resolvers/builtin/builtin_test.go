package builtin_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/builtin"
	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

func TestNames(t *testing.T) {
	t.Parallel()
	want := []string{"counter", "lww", "set-union", "shopping-cart"}
	if got := builtin.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
}

func TestModule(t *testing.T) {
	t.Parallel()
	for _, name := range builtin.Names() {
		b, ok := builtin.Module(name)
		if !ok || !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("Module(%q) = %d bytes, %v; want a WebAssembly module", name, len(b), ok)
		}
		b[0] = 'X' // the caller owns the copy
		if again, _ := builtin.Module(name); again[0] != 0 {
			t.Errorf("Module(%q) returned shared bytes", name)
		}
	}
	for _, name := range []string{"", "nope", "wasm/lww", "../wasm/lww", "lww.wasm", "TOOLCHAIN"} {
		if _, ok := builtin.Module(name); ok {
			t.Errorf("Module(%q) found a module", name)
		}
	}
}

// TestModuleShape checks each module's imports and exports: only concord.*
// host functions (no WASI), and exactly the ABI's exports.
func TestModuleShape(t *testing.T) {
	t.Parallel()
	for _, name := range builtin.Names() {
		b, _ := builtin.Module(name)
		s, err := wasmbin.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, imp := range s.Imports {
			if imp.Module != "concord" {
				t.Errorf("%s imports %s.%s", name, imp.Module, imp.Name)
			}
		}
		var exports []string
		for _, e := range s.Exports {
			exports = append(exports, e.Name)
		}
		slices.Sort(exports)
		if want := []string{"concord_abi_v1", "memory", "resolve"}; !slices.Equal(exports, want) {
			t.Errorf("%s exports %q, want %q", name, exports, want)
		}
	}
}

// A node loads a built-in like any uploaded module.
func ExampleModule() {
	ctx := context.Background()
	rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	wasm, _ := builtin.Module("set-union")
	module, err := rt.Compile(ctx, wasm)
	if err != nil {
		panic(err)
	}
	pool := resolvers.NewPool(module, "tags", nil, resolvers.Limits{})
	defer pool.Close(ctx)

	res, err := pool.Resolve(ctx, abi.Input{
		Key: []byte("post:7"),
		Siblings: []abi.Sibling{
			{Value: []byte(`["go","wasm"]`), Timestamp: 1},
			{Value: []byte(`["c","go"]`), Timestamp: 2},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Value))
	// Output: OK ["c","go","wasm"]
}
