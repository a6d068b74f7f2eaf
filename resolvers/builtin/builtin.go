// Package builtin ships concord's built-in resolvers as WebAssembly modules
// implementing ABI v1 (../ABI.md): "lww", "set-union", "counter" and
// "shopping-cart". Their value formats and the client operations on them
// are described in README.md next to this file.
//
// The modules are written in C (src/, on the guest library in
// ../guest/c) and committed, built, under wasm/; build.sh rebuilds them
// byte for byte, which TestBuiltinsAreRebuiltFromSource checks. They are
// loaded like any uploaded module:
//
//	wasm, _ := builtin.Module("shopping-cart")
//	module, err := rt.Compile(ctx, wasm) // rt: a *resolvers.Runtime
//
// All four are pure merges, independent of sibling order, and commutative,
// associative and idempotent when a merged value is fed back as a sibling
// (for lww, with the winning sibling's timestamp: see ABI.md §8). They take
// no config.
//
// The package is safe for concurrent use.
package builtin

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed wasm/*.wasm
var modules embed.FS

// Names returns the names of the built-in resolvers, sorted.
func Names() []string {
	entries, err := fs.ReadDir(modules, "wasm")
	if err != nil {
		panic("builtin: embedded modules: " + err.Error()) // cannot happen: the directory is embedded
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm"))
	}
	slices.Sort(names)
	return names
}

// Module returns the WebAssembly module of the named built-in resolver, and
// whether it exists. The slice is a fresh copy, owned by the caller.
func Module(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, false
	}
	b, err := modules.ReadFile("wasm/" + name + ".wasm")
	if err != nil {
		return nil, false
	}
	return b, true
}
