package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/internal/meter"
	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// MaxModuleBytes is the largest module [Runtime.Compile] accepts (8 MiB).
const MaxModuleBytes = 8 << 20

// Names of the guest's exports.
const (
	exportResolve    = "resolve"
	exportInit       = "init"
	exportMemory     = "memory"
	exportInitialize = "_initialize" // WASI reactor initializer (Go c-shared, Rust, C)
)

// Hash is the SHA-256 of a module's bytes, its identity in cluster metadata.
type Hash [sha256.Size]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for logs.
func (h Hash) Short() string { return h.String()[:12] }

// Module is a validated, compiled resolver module. It is immutable and safe
// for concurrent use; pools made from it hold their own reference to the
// compiled code, so it can be closed once they are made.
type Module struct {
	rt       *Runtime
	hash     Hash
	size     int    // of the module as uploaded
	wasm     []byte // as instrumented (meter.go), which is what runs
	hasInit  bool
	minPages uint32
	compiled wazero.CompiledModule // in the validation engine; keeps machine code cached
}

// Hash returns the SHA-256 of the module's bytes.
func (m *Module) Hash() Hash { return m.hash }

// Size returns the module's size in bytes, as uploaded.
func (m *Module) Size() int { return m.size }

// MinMemoryPages returns the initial size of the module's memory. A pool
// whose Limits.MemoryPages is smaller cannot instantiate it (KindInstantiate);
// check it when a module is attached to a namespace.
func (m *Module) MinMemoryPages() uint32 { return m.minPages }

// Close releases the module's reference to its compiled code.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// Compile validates wasm against ABI v1 and compiles it.
//
// A module the user must fix yields a [*ModuleError] (errors.Is
// [ErrInvalidModule]) naming every problem found: too large, not
// WebAssembly, too costly to compile (see [MaxFunctions] and the other
// shape limits), an instruction the sandbox does not support, a missing or
// mistyped export (concord_abi_v1, resolve, memory, init), an import that is
// not allowed or has the wrong signature.
// Other errors (a closed runtime, a cancelled context) are the node's.
//
// Before compiling, Compile checks the module's shape and rewrites it so
// that every call can be stopped at its deadline (meter.go): what runs is
// the rewritten module; the hash is the uploaded bytes'.
func (r *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	if len(wasm) > MaxModuleBytes {
		return nil, invalidModule("too large: %d bytes > 8 MiB (%d bytes)", len(wasm), MaxModuleBytes)
	}
	decoded, err := wasmbin.Decode(wasm)
	switch {
	case errors.Is(err, wasmbin.ErrNotWasm):
		return nil, invalidModule("not WebAssembly: the file does not start with \\0asm")
	case errors.Is(err, wasmbin.ErrComponent):
		return nil, invalidModule("not WebAssembly: a component-model binary; build a core module (e.g. wasm32-wasip1)")
	case err != nil:
		return nil, invalidModule("not valid WebAssembly: %s", strings.TrimPrefix(err.Error(), "wasmbin: "))
	}
	if problems := checkShape(decoded); len(problems) > 0 {
		return nil, &ModuleError{Problems: problems}
	}
	metered, err := meter.Instrument(decoded, meterConfig)
	switch {
	case errors.Is(err, meter.ErrUnsupported):
		return nil, invalidModule("%s", strings.TrimPrefix(err.Error(), "meter: unsupported module: "))
	case err != nil:
		return nil, invalidModule("not valid WebAssembly: %s", strings.TrimPrefix(err.Error(), "wasmbin: "))
	}
	e, err := r.engine(ctx, MaxMemoryPages)
	if err != nil {
		return nil, err
	}
	compiled, err := e.rt.CompileModule(compileContext(ctx), metered)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, r.compileError(ctx, e, wasm, err)
	}
	if problems := r.checkABI(wasmbin.Sections{Imports: decoded.Imports, Exports: decoded.Exports}, compiled); len(problems) > 0 {
		_ = compiled.Close(ctx)
		return nil, &ModuleError{Problems: problems}
	}
	m := &Module{
		rt:       r,
		hash:     sha256.Sum256(wasm),
		size:     len(wasm),
		wasm:     metered,
		compiled: compiled,
	}
	_, m.hasInit = compiled.ExportedFunctions()[exportInit]
	if mem, ok := compiled.ExportedMemories()[exportMemory]; ok {
		m.minPages = mem.Min()
	}
	return m, nil
}

// compileContext lets wazero compile on two goroutines, which also makes it
// check ctx between functions.
func compileContext(ctx context.Context) context.Context {
	return experimental.WithCompilationWorkers(ctx, min(2, runtime.GOMAXPROCS(0)))
}

// compileError explains why wazero refused the rewritten module: the
// uploaded module is invalid (its own error, with its own function
// indexes), or, if wazero accepts it as uploaded, the rewriting is at fault
// (not the user's: logged, and a generic error).
func (r *Runtime) compileError(ctx context.Context, e *engine, wasm []byte, err error) error {
	orig, origErr := e.rt.CompileModule(compileContext(ctx), wasm)
	if origErr != nil {
		return invalidModule("not valid WebAssembly: %v", origErr)
	}
	_ = orig.Close(ctx)
	r.logger.Error("resolvers: the sandbox's rewriting of a valid module does not compile", slog.Any("err", err))
	return fmt.Errorf("resolvers: internal error preparing the module: %w", err)
}

var (
	i32           = api.ValueTypeI32
	sigResolve    = signature{params: []api.ValueType{i32}, results: []api.ValueType{i32}}
	sigInit       = signature{results: []api.ValueType{i32}}
	sigInitialize = signature{} // _initialize: () -> ()
)

type signature struct{ params, results []api.ValueType }

func sigOf(d api.FunctionDefinition) signature {
	return signature{params: d.ParamTypes(), results: d.ResultTypes()}
}

func (s signature) equal(o signature) bool {
	return slices.Equal(s.params, o.params) && slices.Equal(s.results, o.results)
}

func (s signature) String() string {
	names := func(ts []api.ValueType) string {
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return names(s.params) + " -> " + names(s.results)
}

// checkABI returns the ABI v1 problems of a module that wazero compiled.
func (r *Runtime) checkABI(s wasmbin.Sections, compiled wazero.CompiledModule) []string {
	var problems []string
	exports := map[string]wasmbin.Kind{}
	for _, e := range s.Exports {
		exports[e.Name] = e.Kind
	}
	funcs := compiled.ExportedFunctions()

	if k, ok := exports[abi.MarkerName]; !ok {
		problems = append(problems, fmt.Sprintf("missing export %q (the ABI v1 marker: a function or a global)", abi.MarkerName))
	} else if k != wasmbin.KindFunc && k != wasmbin.KindGlobal {
		problems = append(problems, fmt.Sprintf("export %q is a %s, want a function or a global", abi.MarkerName, k))
	}
	checkFunc := func(name string, want signature, required bool) {
		def, ok := funcs[name]
		switch {
		case !ok && exports[name] != wasmbin.KindFunc && hasKey(exports, name):
			problems = append(problems, fmt.Sprintf("export %q is a %s, want a function %s", name, exports[name], want))
		case !ok && required:
			problems = append(problems, fmt.Sprintf("missing export %q: a function %s", name, want))
		case ok && !sigOf(def).equal(want):
			problems = append(problems, fmt.Sprintf("export %q has signature %s, want %s", name, sigOf(def), want))
		}
	}
	checkFunc(exportResolve, sigResolve, true)
	checkFunc(exportInit, sigInit, false)
	checkFunc(exportInitialize, sigInitialize, false)
	if _, ok := compiled.ExportedMemories()[exportMemory]; !ok {
		problems = append(problems, fmt.Sprintf("missing export %q: the guest must export its linear memory", exportMemory))
	}

	imported := compiled.ImportedFunctions()
	for _, imp := range s.Imports {
		if imp.Kind != wasmbin.KindFunc {
			problems = append(problems, fmt.Sprintf("import %s.%s is a %s: only functions may be imported (export the memory instead of importing it)", imp.Module, imp.Name, imp.Kind))
			continue
		}
		want, ok := r.allowed[imp.Module][imp.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("import %s.%s not allowed: %s", imp.Module, imp.Name, whyNotAllowed(imp.Module, imp.Name)))
			continue
		}
		for _, def := range imported {
			if mod, name, _ := def.Import(); mod == imp.Module && name == imp.Name && !sigOf(def).equal(sigOf(want)) {
				problems = append(problems, fmt.Sprintf("import %s.%s has signature %s, want %s", imp.Module, imp.Name, sigOf(def), sigOf(want)))
				break
			}
		}
	}
	return problems
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func whyNotAllowed(module, name string) string {
	switch {
	case module == "wasi_snapshot_preview1" && strings.HasPrefix(name, "sock_"):
		return "resolvers have no network access"
	case module == hostModuleName || module == "wasi_snapshot_preview1":
		return "no such function in " + module
	case module == envModuleName:
		return "only env.abort (AssemblyScript) is provided by env"
	}
	return "modules may import only from concord, wasi_snapshot_preview1 and env.abort"
}
