package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/concord-kv/concord/resolvers/abi"
)

// Result is the outcome of a successful resolve call.
type Result struct {
	// Status is StatusOK, StatusDelete or StatusDefer (StatusError and
	// unknown statuses are returned as a *CallError).
	Status abi.Status
	// Value is the merged value for StatusOK (possibly empty), nil otherwise.
	// It is owned by the caller.
	Value []byte
}

// PoolOption configures a [Pool].
type PoolOption func(*Pool)

// WithBreaker sets the circuit breaker: it opens after threshold consecutive
// failures and stays open for coolDown. Defaults: [DefaultBreakerThreshold]
// failures, [DefaultBreakerCoolDown].
func WithBreaker(threshold int, coolDown time.Duration) PoolOption {
	return func(p *Pool) { p.breaker = NewBreaker(threshold, coolDown) }
}

// WithClock sets the clock the breaker is driven by. Default time.Now.
func WithClock(now func() time.Time) PoolOption {
	return func(p *Pool) { p.now = now }
}

// Pool runs one module for one namespace: it keeps warm instances, applies
// the namespace's limits and breaker, and counts outcomes. Pools are per
// (namespace, module hash) and never shared between namespaces; when a
// namespace's module or config changes, make a new pool and close the old
// one. A Pool is safe for concurrent use; each instance serves one call at a
// time.
type Pool struct {
	module    *Module
	namespace string
	config    []byte
	limits    Limits
	now       func() time.Time
	logger    *slog.Logger
	slots     chan struct{} // one token per live instance, busy or idle

	mu       sync.Mutex
	compiled wazero.CompiledModule // in the engine of limits.MemoryPages
	engine   *engine
	compErr  error
	idle     []*instance
	closed   bool
	breaker  *Breaker

	stats counters
}

// instance is one instantiated guest and its per-call state. It is used by
// one goroutine at a time.
type instance struct {
	pool    *Pool
	mod     api.Module
	resolve api.Function
	random  *rand.ChaCha8
	stderr  tailBuffer
	stack   [1]uint64

	// Per-call state, read by the host functions.
	inResolve      bool
	frame          []byte
	output         []byte
	outputOverflow bool
	logLines       int
}

// NewPool returns a pool running module for namespace, passing config to
// the guest's config_read. Zero fields of limits take their defaults and
// out-of-range ones are clamped (check them earlier with [Limits.Validate]).
// Nothing is instantiated until the first call.
func NewPool(module *Module, namespace string, config []byte, limits Limits, opts ...PoolOption) *Pool {
	limits = limits.sanitize()
	p := &Pool{
		module:    module,
		namespace: namespace,
		config:    slices.Clone(config),
		limits:    limits,
		now:       time.Now,
		logger:    module.rt.logger.With(slog.String("namespace", namespace), slog.String("module", module.hash.Short())),
		slots:     make(chan struct{}, limits.MaxInstances),
		breaker:   NewBreaker(0, 0),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Namespace returns the pool's namespace.
func (p *Pool) Namespace() string { return p.namespace }

// Module returns the pool's module.
func (p *Pool) Module() *Module { return p.module }

// Limits returns the limits in effect, defaults applied.
func (p *Pool) Limits() Limits { return p.limits }

// Resolve merges the siblings of in.
//
// in.Namespace may be empty (the pool's is used); otherwise it must equal the
// pool's ([ErrNamespaceMismatch]). On failure the error is a *CallError
// (siblings must be kept), [ErrBreakerOpen] (the module was not called),
// [ErrClosed], or ctx's error if ctx ended while waiting for an instance.
func (p *Pool) Resolve(ctx context.Context, in abi.Input) (Result, error) {
	switch in.Namespace {
	case p.namespace:
	case "":
		in.Namespace = p.namespace
	default:
		return Result{}, fmt.Errorf("%w: %q, pool of %q", ErrNamespaceMismatch, in.Namespace, p.namespace)
	}
	if err := p.admit(); err != nil {
		return Result{}, err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.settle(nil, true)
		return Result{}, ctx.Err()
	}
	res, err := p.resolve(ctx, in)
	<-p.slots
	p.settle(err, false)
	return res, err
}

// admit checks closure and the breaker.
func (p *Pool) admit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.module.rt.isClosed() {
		return ErrClosed
	}
	if !p.breaker.Allow(p.now()) {
		p.stats.rejections.Add(1)
		return ErrBreakerOpen
	}
	return nil
}

// settle reports a call's outcome to the breaker.
func (p *Pool) settle(err error, abandoned bool) {
	var ce *CallError
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case abandoned, errors.As(err, &ce) && ce.Kind == KindCanceled:
		p.breaker.Abandon()
	case err == nil:
		p.breaker.Success()
	case ce != nil:
		p.breaker.Failure(p.now())
	default: // ErrClosed and the like: no verdict on the module
		p.breaker.Abandon()
	}
}

func (p *Pool) resolve(ctx context.Context, in abi.Input) (Result, error) {
	inst, err := p.get(ctx)
	if err != nil {
		return Result{}, p.fail(err)
	}
	p.stats.calls.Add(1)
	res, err := inst.call(ctx, in)
	if err != nil || inst.mod.IsClosed() {
		inst.close()
		return Result{}, p.fail(err)
	}
	p.put(inst)
	switch res.Status {
	case abi.StatusOK:
		p.stats.ok.Add(1)
	case abi.StatusDelete:
		p.stats.deletes.Add(1)
	case abi.StatusDefer:
		p.stats.defers.Add(1)
	}
	return res, nil
}

// fail counts err (a *CallError, or a non-module error passed through) and
// returns it.
func (p *Pool) fail(err error) error {
	var ce *CallError
	if errors.As(err, &ce) {
		p.stats.failures[ce.Kind].Add(1)
		if ce.Kind != KindCanceled {
			p.logger.Warn("resolver call failed", slog.String("kind", ce.Kind.String()), slog.Any("err", ce.Err), slog.String("stderr", ce.Stderr))
		}
	}
	return err
}

func (p *Pool) callError(kind ErrorKind, err error) *CallError {
	return &CallError{Kind: kind, Namespace: p.namespace, Module: p.module.hash, Err: err}
}

// get returns an idle instance, or instantiates one (the cold path).
func (p *Pool) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	return p.instantiate(ctx)
}

// put returns a healthy instance to the pool.
func (p *Pool) put(inst *instance) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.limits.MaxInstances {
		p.idle = append(p.idle, inst)
		inst = nil
	}
	p.mu.Unlock()
	if inst != nil {
		inst.close()
	}
}

// compiledModule compiles the module in the engine of the pool's memory
// limit, once. With the shared compilation cache this is a cache hit: only
// decoding and validation run again.
func (p *Pool) compiledModule(ctx context.Context) (*engine, wazero.CompiledModule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.compiled != nil || p.compErr != nil {
		return p.engine, p.compiled, p.compErr
	}
	e, err := p.module.rt.engine(ctx, p.limits.MemoryPages)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.rt.CompileModule(ctx, p.module.wasm)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		// Deterministic (e.g. the module's minimum memory exceeds the
		// limit): remember it rather than recompile on every call.
		p.compErr = p.callError(KindInstantiate, fmt.Errorf("memory limit %d pages: %w", p.limits.MemoryPages, err))
		return nil, nil, p.compErr
	}
	p.engine, p.compiled = e, c
	return e, c, nil
}

// instantiate makes a new instance and runs _initialize and init, all
// within Limits.InitDeadline.
func (p *Pool) instantiate(ctx context.Context) (*instance, error) {
	e, compiled, err := p.compiledModule(ctx)
	if err != nil {
		return nil, err
	}
	p.stats.coldStarts.Add(1)
	inst := &instance{pool: p, random: newRand()}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, p.limits.InitDeadline)
	defer cancel()
	ctx = context.WithValue(ctx, instanceKey{}, inst)

	mod, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, memoryAllocator), compiled, moduleConfig(inst.random, &inst.stderr))
	if err != nil {
		return nil, inst.classify(parent, KindInstantiate, err)
	}
	inst.mod = mod
	inst.resolve = mod.ExportedFunction(exportResolve)
	for _, name := range []string{exportInitialize, exportInit} {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			continue
		}
		inst.random.Seed(randSeed)
		results, err := fn.Call(ctx)
		if err != nil {
			inst.close()
			return nil, inst.classify(parent, KindInit, fmt.Errorf("%s: %w", name, err))
		}
		if len(results) == 1 && int32(results[0]) != 0 {
			inst.close()
			ce := p.callError(KindInit, nil)
			ce.Status, ce.Stderr = abi.Status(int32(results[0])), inst.stderr.String()
			return nil, ce
		}
	}
	return inst, nil
}

// call runs resolve once, within Limits.Deadline.
func (inst *instance) call(ctx context.Context, in abi.Input) (Result, error) {
	p := inst.pool
	inst.frame = abi.AppendInput(inst.frame[:0], in)
	inst.output, inst.outputOverflow, inst.logLines = nil, false, 0
	inst.stderr.Reset()
	inst.random.Seed(randSeed)

	cctx, cancel := context.WithTimeout(ctx, p.limits.Deadline)
	defer cancel()
	cctx = context.WithValue(cctx, instanceKey{}, inst)
	inst.inResolve = true
	inst.stack[0] = api.EncodeU32(uint32(len(inst.frame)))
	err := inst.resolve.CallWithStack(cctx, inst.stack[:])
	inst.inResolve = false
	if err != nil {
		return Result{}, inst.classify(ctx, KindTrap, err)
	}
	status := abi.Status(api.DecodeI32(inst.stack[0]))
	if inst.outputOverflow {
		return Result{}, p.callError(KindBadOutput, fmt.Errorf("output exceeds %d bytes", p.limits.MaxOutputBytes))
	}
	switch status {
	case abi.StatusOK:
		return Result{Status: status, Value: inst.output}, nil
	case abi.StatusDelete, abi.StatusDefer:
		return Result{Status: status}, nil
	case abi.StatusError:
		ce := p.callError(KindGuestError, nil)
		ce.Status, ce.Stderr = status, inst.stderr.String()
		return Result{}, ce
	}
	ce := p.callError(KindBadStatus, nil)
	ce.Status = status
	return Result{}, ce
}

// classify turns an error from wazero into a *CallError. parent is the
// caller's context, without the per-call deadline: if it ended, the call was
// canceled, whatever wazero reports. fallback is the kind of any other error
// (a trap during a call, a failure during instantiation or init).
func (inst *instance) classify(parent context.Context, fallback ErrorKind, err error) *CallError {
	kind := fallback
	var exit *sys.ExitError
	switch {
	case parent.Err() != nil:
		kind = KindCanceled
	case errors.As(err, &exit):
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			kind = KindTimeout
		default:
			if fallback == KindTrap {
				kind = KindExit
			}
		}
	}
	ce := inst.pool.callError(kind, err)
	ce.Stderr = inst.stderr.String()
	return ce
}

func (inst *instance) close() {
	if inst.mod != nil {
		_ = inst.mod.Close(context.Background())
	}
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	s := p.stats.snapshot()
	p.mu.Lock()
	s.Idle = len(p.idle)
	s.Breaker = p.breaker.State(p.now())
	p.mu.Unlock()
	return s
}

// BreakerState returns the state of the pool's circuit breaker.
func (p *Pool) BreakerState() BreakerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.breaker.State(p.now())
}

// ResetBreaker closes the circuit breaker and forgets past failures.
func (p *Pool) ResetBreaker() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.breaker.Reset()
}

// Drain closes the idle instances; the next calls start cold. Counters and
// the breaker are kept.
func (p *Pool) Drain() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}

// Close closes the idle instances and releases the pool's compiled code.
// Calls in flight finish; their instances are then closed. Resolve after
// Close returns [ErrClosed].
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle, compiled := p.idle, p.compiled
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
	if compiled != nil {
		return compiled.Close(ctx)
	}
	return nil
}
