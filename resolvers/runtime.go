package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Options configure a [Runtime].
type Options struct {
	// CacheDir, if set, persists compiled machine code there
	// (wazero.NewCompilationCacheWithDir), so a restarted node does not
	// recompile its modules. Empty: an in-memory cache only. The directory
	// must be private to this process.
	CacheDir string
	// Logger receives the runtime's and the guests' log lines (the guest's
	// log host call), and the pools' failures and breaker changes, each
	// with the namespace. Nil: discard.
	Logger *slog.Logger
	// MaxLimits are the cluster admin's caps on every namespace's limits:
	// [Runtime.CheckLimits] refuses limits above them, and [NewPool] lowers
	// them to the caps. Zero fields take [DefaultCapMemoryPages],
	// [DefaultCapDeadline] and [DefaultCapInitDeadline]; MaxOutputBytes and
	// MaxInstances are not capped when zero.
	MaxLimits Limits
}

// Runtime compiles resolver modules and hosts their instance pools. It is
// safe for concurrent use.
//
// Internally it keeps one wazero runtime per distinct memory limit (wazero
// applies WithMemoryLimitPages per runtime, at compile time); all of them
// share one compilation cache, so a module is compiled to machine code once
// whatever the number of limits and pools. See RATIONALE.md.
type Runtime struct {
	logger *slog.Logger
	cache  wazero.CompilationCache
	caps   Limits

	mu      sync.Mutex
	engines map[uint32]*engine // by memory limit in pages
	closed  bool
	allowed map[string]map[string]api.FunctionDefinition // importable functions, by module and name
}

// engine is one wazero runtime with the host modules instantiated in it.
type engine struct {
	pages uint32
	rt    wazero.Runtime
}

// NewRuntime returns a runtime. Close it to release compiled code.
func NewRuntime(ctx context.Context, opts Options) (*Runtime, error) {
	r := &Runtime{logger: opts.Logger, caps: capsOf(opts.MaxLimits), engines: map[uint32]*engine{}}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir == "" {
		r.cache = wazero.NewCompilationCache()
	} else {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("resolvers: compilation cache in %s: %w", opts.CacheDir, err)
		}
		r.cache = c
	}
	// The validation engine (no limit beyond WebAssembly's own) also tells
	// which host functions exist, with their signatures.
	e, err := r.engine(ctx, MaxMemoryPages)
	if err != nil {
		_ = r.cache.Close(ctx)
		return nil, err
	}
	r.allowed = allowedImports(e.rt)
	return r, nil
}

// engine returns the wazero runtime for a memory limit, creating it on first
// use.
func (r *Runtime) engine(ctx context.Context, pages uint32) (*engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if e, ok := r.engines[pages]; ok {
		return e, nil
	}
	// No WithCloseOnContextDone: the instrumented module checks in with
	// the host instead (meter.go, RATIONALE.md).
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(pages).
		WithCompilationCache(r.cache)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := instantiateHostModules(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("resolvers: host modules: %w", err)
	}
	e := &engine{pages: pages, rt: rt}
	r.engines[pages] = e
	return e, nil
}

func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return err
	}
	if _, err := concordHostModule(rt).Instantiate(ctx); err != nil {
		return err
	}
	if _, err := meterHostModule(rt).Instantiate(ctx); err != nil {
		return err
	}
	_, err := envHostModule(rt).Instantiate(ctx)
	return err
}

// allowedImports lists the functions a guest may import: all of concord, the
// WASI preview 1 functions except sockets, and env.abort.
func allowedImports(rt wazero.Runtime) map[string]map[string]api.FunctionDefinition {
	allowed := map[string]map[string]api.FunctionDefinition{}
	for _, name := range []string{hostModuleName, wasi_snapshot_preview1.ModuleName, envModuleName} {
		defs := map[string]api.FunctionDefinition{}
		for fn, def := range rt.Module(name).ExportedFunctionDefinitions() {
			if name == wasi_snapshot_preview1.ModuleName && strings.HasPrefix(fn, "sock_") {
				continue
			}
			defs[fn] = def
		}
		allowed[name] = defs
	}
	return allowed
}

// Close releases every pool's instances, all compiled code and the cache
// handle. Pools and modules of a closed runtime return [ErrClosed].
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.rt.Close(ctx))
	}
	r.engines = nil
	errs = append(errs, r.cache.Close(ctx))
	return errors.Join(errs...)
}

// Caps returns the runtime's caps on namespace limits ([Options].MaxLimits
// with defaults applied).
func (r *Runtime) Caps() Limits { return r.caps }

// CheckLimits reports limits a namespace may not have: invalid ones
// ([Limits.Validate]) and, wrapping [ErrLimitExceeded], those above the
// runtime's caps. Zero fields count as their defaults. The server calls it
// when an admin sets a namespace's resolver limits.
func (r *Runtime) CheckLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if over := l.exceeding(r.caps); len(over) > 0 {
		return fmt.Errorf("%w: %s", ErrLimitExceeded, strings.Join(over, ", "))
	}
	return nil
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
