package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/internal/meter"
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

// WithBreaker configures the circuit breaker. Default: BreakerConfig{}
// (it opens after [DefaultBreakerThreshold] failures in a row or at the
// first deadline timeout, for [DefaultBreakerCoolDown], doubling with each
// failed probe up to [DefaultBreakerMaxCoolDown]).
func WithBreaker(cfg BreakerConfig) PoolOption {
	return func(p *Pool) { p.breaker = NewBreaker(cfg) }
}

// WithClock sets the clock the breaker is driven by. Default time.Now.
func WithClock(now func() time.Time) PoolOption {
	return func(p *Pool) { p.now = now }
}

// WithLogger sets the logger of the pool's failures, breaker changes and
// guest log lines. Default: the runtime's ([Options].Logger). Either way
// every line carries the namespace and the module's hash.
func WithLogger(l *slog.Logger) PoolOption {
	return func(p *Pool) { p.logger = l }
}

// WithOnOpen sets a function the pool calls, outside its lock, each time
// its breaker opens on the pool's own calls (never on [Pool.OpenUntil]),
// with the time the opening ends. A node tells the other nodes, which open
// their breakers of the same module too (engine/node): a module that fails
// everywhere then costs one deadline in the cluster, not one per node.
func WithOnOpen(f func(until time.Time)) PoolOption {
	return func(p *Pool) { p.onOpen = f }
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
	yield     func()        // a long call's yield of its core: runtime.Gosched (meter.go)
	onOpen    func(until time.Time)

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
	// fuel and stack are the meter's globals (meter.go).
	fuel, stack api.MutableGlobal
	// ctx is what every call into the guest passes to wazero: it carries
	// the instance to the host functions. The caller's context is in
	// budget, for the check-in.
	ctx      context.Context
	random   *rand.ChaCha8
	stderr   tailBuffer
	params   [1]uint64
	budget   budget
	checkins uint64
	yielded  time.Time // the call's start or its last yield (meter.go)

	// Per-call state, read by the host functions.
	inResolve      bool
	frame          []byte
	output         []byte
	outputOverflow bool
	logLines       int
}

// NewPool returns a pool running module for namespace, passing config to
// the guest's config_read. Zero fields of limits take their defaults;
// out-of-range ones, and those above the runtime's caps ([Options].MaxLimits),
// are lowered, with a warning (check them earlier with
// [Runtime.CheckLimits]). Nothing is instantiated until the first call.
func NewPool(module *Module, namespace string, config []byte, limits Limits, opts ...PoolOption) *Pool {
	rt := module.rt
	asked := limits.sanitize()
	limits = asked.clamp(rt.caps)
	p := &Pool{
		module:    module,
		namespace: namespace,
		config:    slices.Clone(config),
		limits:    limits,
		now:       time.Now,
		logger:    rt.logger,
		slots:     make(chan struct{}, limits.MaxInstances),
		breaker:   NewBreaker(BreakerConfig{}),
		yield:     runtime.Gosched,
	}
	for _, o := range opts {
		o(p)
	}
	p.logger = p.logger.With(slog.String("namespace", namespace), slog.String("module", module.hash.Short()))
	if over := asked.exceeding(rt.caps); len(over) > 0 {
		p.logger.Warn("resolver limits lowered to the cluster's caps", slog.String("over", strings.Join(over, ", ")))
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
// The guest's run is bounded by Limits.Deadline or ctx's deadline, whichever
// comes first: ctx's deadline is taken as the call's own, so a run it stops
// is a [KindTimeout] failure that counts for the breaker. Only a
// cancellation of ctx (context.Canceled: the client went away) is
// [KindCanceled]. Before the run, Resolve waits for a free instance, or for
// a new one to start (which takes at most Limits.InitDeadline), as long as
// ctx lasts. [Pool.ResolveWithin] bounds all of it by one deadline, and
// keeps the caller's deadline apart from the resolver's.
//
// in.Namespace may be empty (the pool's is used); otherwise it must equal the
// pool's ([ErrNamespaceMismatch]). On failure the error is a *CallError
// (siblings must be kept), [ErrBreakerOpen] (the module was not called),
// [ErrClosed], or ctx's error if ctx ended while waiting for an instance.
func (p *Pool) Resolve(ctx context.Context, in abi.Input) (Result, error) {
	return p.run(ctx, in, p.limits.Deadline, false)
}

// ResolveWithin is [Pool.Resolve] with a deadline for the whole call:
// deadline (at most Limits.Deadline; zero or less means Limits.Deadline)
// from now, covering the wait for an instance, a cold start and the
// guest's run, so that the call returns by then (plus at most a check-in
// interval, see RATIONALE.md). A guest run that the deadline stops is a
// [KindTimeout] failure; a call that could not run in time is [KindNotRun]
// (a cold start goes on in the background, and its instance serves later
// calls). ctx ending first, whether canceled or past its own deadline, is
// the caller giving up, not counted by the breaker: [KindCanceled] if the
// guest was running, ctx's error or [KindNotRun] if the call was still
// waiting for an instance.
func (p *Pool) ResolveWithin(ctx context.Context, in abi.Input, deadline time.Duration) (Result, error) {
	d := p.limits.Deadline
	if deadline > 0 {
		d = min(d, deadline)
	}
	return p.run(ctx, in, d, true)
}

// run is Resolve (strict false) and ResolveWithin (strict true).
func (p *Pool) run(ctx context.Context, in abi.Input, d time.Duration, strict bool) (Result, error) {
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
	var end time.Time // strict: the end of everything; else no bound but ctx on the wait
	if strict {
		end = time.Now().Add(d)
	}
	if err := p.acquire(ctx, end); err != nil {
		p.settle(nil, true)
		return Result{}, p.fail(err)
	}
	// Resolve waits for a cold start as long as ctx lasts: the start
	// itself ends by Limits.InitDeadline.
	inst, err := p.get(ctx, end)
	if err != nil {
		p.settle(err, false)
		return Result{}, p.fail(err)
	}
	b := budget{deadline: end, done: ctx.Done(), ctx: ctx, ctxDeadline: !strict}
	if !strict {
		b.deadline = earlier(time.Now().Add(d), ctx)
	}
	if !time.Now().Before(b.deadline) { // no time left to run: not the module's doing
		p.put(inst)
		p.release()
		err := p.callError(KindNotRun, errors.New("the deadline passed before the call could start"))
		p.settle(err, false)
		return Result{}, p.fail(err)
	}
	res, err := p.resolve(inst, in, b)
	p.settle(err, false)
	return res, err
}

// earlier returns t, or ctx's deadline if that comes first.
func earlier(t time.Time, ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d
	}
	return t
}

// acquire takes a call slot, waiting until ctx's end or deadline (if not
// zero).
func (p *Pool) acquire(ctx context.Context, deadline time.Time) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		return p.callError(KindNotRun, errors.New("every instance stayed busy until the deadline"))
	}
}

func (p *Pool) release() { <-p.slots }

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

// settle reports a call's outcome to the breaker, and logs the breaker's
// changes of state.
func (p *Pool) settle(err error, abandoned bool) {
	var ce *CallError
	p.mu.Lock()
	now := p.now()
	before := p.breaker.State(now)
	switch {
	case abandoned, errors.As(err, &ce) && !ce.Kind.counts():
		p.breaker.Abandon()
	case err == nil:
		p.breaker.Success()
	case ce != nil:
		p.breaker.Failure(now, ce.Kind)
	default: // ErrClosed and the like: no verdict on the module
		p.breaker.Abandon()
	}
	after, coolDown := p.breaker.State(now), p.breaker.CoolDown()
	p.mu.Unlock()
	p.breakerChanged(before, after, now, coolDown, ce)
}

// failedStart reports the failure of a cold start that outlived its caller:
// a failure for the breaker, like a failed call.
func (p *Pool) failedStart(err error) {
	var ce *CallError
	if !errors.As(err, &ce) || !ce.Kind.counts() {
		return
	}
	p.mu.Lock()
	now := p.now()
	before := p.breaker.State(now)
	p.breaker.Failure(now, ce.Kind)
	after, coolDown := p.breaker.State(now), p.breaker.CoolDown()
	p.mu.Unlock()
	p.breakerChanged(before, after, now, coolDown, ce)
}

// breakerChanged logs a change of the breaker's state that the pool's own
// calls made at now, and reports an opening, for coolDown, to onOpen.
func (p *Pool) breakerChanged(before, after BreakerState, now time.Time, coolDown time.Duration, ce *CallError) {
	switch {
	case before == after:
	case after == BreakerOpen:
		attrs := []any{slog.Duration("cool_down", coolDown)}
		if ce != nil {
			attrs = append(attrs, slog.String("last_kind", ce.Kind.String()))
		}
		p.logger.Warn("resolver circuit breaker opened: the module is not called until the cool-down ends", attrs...)
		if p.onOpen != nil {
			p.onOpen(now.Add(coolDown))
		}
	case after == BreakerClosed:
		p.logger.Info("resolver circuit breaker closed")
	}
}

// OpenUntil follows another node's breaker of the same module, open until
// ends ([Breaker.OpenUntil]). It does not call the WithOnOpen function.
func (p *Pool) OpenUntil(ends time.Time, grace time.Duration) {
	p.mu.Lock()
	now := p.now()
	changed := p.breaker.OpenUntil(now, ends, grace)
	coolDown := p.breaker.CoolDown()
	p.mu.Unlock()
	if changed {
		p.logger.Info("resolver circuit breaker opened as another node's did: the module is not called until the cool-down ends", slog.Duration("cool_down", coolDown))
	}
}

// counts reports whether a failure of kind k counts for the breaker.
func (k ErrorKind) counts() bool { return k != KindCanceled && k != KindNotRun && k != KindBudget }

// resolve runs one call on inst and releases the caller's slot.
func (p *Pool) resolve(inst *instance, in abi.Input, b budget) (Result, error) {
	defer p.release()
	p.stats.calls.Add(1)
	start := time.Now()
	res, err := inst.call(in, b)
	p.stats.cpu.Add(int64(time.Since(start)))
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

// fail counts err (a *CallError, or a non-module error passed through),
// logs it, and returns it.
func (p *Pool) fail(err error) error {
	var ce *CallError
	if errors.As(err, &ce) {
		p.stats.failures[ce.Kind].Add(1)
		if ce.Kind.counts() {
			p.logger.Warn("resolver call failed; siblings kept", slog.String("kind", ce.Kind.String()), slog.Any("err", ce.Err), slog.String("stderr", ce.Stderr))
		}
	}
	return err
}

func (p *Pool) callError(kind ErrorKind, err error) *CallError {
	return &CallError{Kind: kind, Namespace: p.namespace, Module: p.module.hash, Err: err}
}

// get returns an idle instance, or starts one (the cold path). A start
// that has not finished by end (if not zero) or ctx's end goes on in the
// background,
// holding the caller's slot: get then returns a KindNotRun error, and the
// start's instance is pooled (or its failure counted) when it ends. On any
// other error get releases the slot.
func (p *Pool) get(ctx context.Context, end time.Time) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.release()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()

	type started struct {
		inst *instance
		err  error
	}
	ch := make(chan started, 1)
	go func() {
		inst, err := p.instantiate()
		ch <- started{inst, err}
	}()
	var expired <-chan time.Time
	if !end.IsZero() {
		timer := time.NewTimer(time.Until(end))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case s := <-ch:
		if s.err != nil {
			p.release()
		}
		return s.inst, s.err
	case <-ctx.Done():
	case <-expired:
	}
	go func() {
		s := <-ch
		if s.err != nil {
			p.failedStart(p.fail(s.err))
		} else {
			p.put(s.inst)
		}
		p.release()
	}()
	return nil, p.callError(KindNotRun, errors.New("a new instance was still starting at the deadline; it goes on starting"))
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

// Warm makes sure the pool has an idle instance, starting one if there is
// none and waiting for it (at most Limits.InitDeadline; ctx only bounds the
// wait for a free slot). A failed start is returned as a *CallError and
// counts for the breaker like a failed call. The upload checks use it so
// that a slow cold start is judged against Limits.InitDeadline, not against
// a call's deadline; a server may use it to warm a namespace's pool.
func (p *Pool) Warm(ctx context.Context) error {
	if err := p.admit(); err != nil {
		return err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.settle(nil, true)
		return ctx.Err()
	}
	defer p.release()
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle > 0 {
		p.settle(nil, true)
		return nil
	}
	inst, err := p.instantiate()
	if err != nil {
		err = p.fail(err)
		p.settle(err, false)
		return err
	}
	p.settle(nil, true) // a start is no verdict on resolve
	p.put(inst)
	return nil
}

// compiledModule compiles the module in the engine of the pool's memory
// limit, once. With the shared compilation cache this is a cache hit: only
// decoding and validation run again.
func (p *Pool) compiledModule() (*engine, wazero.CompiledModule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.compiled != nil || p.compErr != nil {
		return p.engine, p.compiled, p.compErr
	}
	ctx := context.Background()
	e, err := p.module.rt.engine(ctx, p.limits.MemoryPages)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.rt.CompileModule(ctx, p.module.wasm)
	if err != nil {
		// Deterministic (e.g. the module's minimum memory exceeds the
		// limit): remember it rather than recompile on every call.
		p.compErr = p.callError(KindInstantiate, fmt.Errorf("memory limit %d pages: %w", p.limits.MemoryPages, err))
		return nil, nil, p.compErr
	}
	p.engine, p.compiled = e, c
	return e, c, nil
}

// instantiate makes a new instance and runs the start function,
// _initialize and init, all within Limits.InitDeadline. It does not depend
// on a caller: a start that outlives its caller goes on (see get).
func (p *Pool) instantiate() (*instance, error) {
	e, compiled, err := p.compiledModule()
	if err != nil {
		return nil, err
	}
	p.stats.coldStarts.Add(1)
	inst := &instance{pool: p, random: newRand()}
	inst.ctx = context.WithValue(context.Background(), instanceKey{}, inst)
	b := budget{deadline: time.Now().Add(p.limits.InitDeadline)}

	mod, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(inst.ctx, memoryAllocator), compiled, moduleConfig(inst.random, &inst.stderr))
	if err != nil {
		return nil, inst.classify(KindInstantiate, err)
	}
	inst.mod = mod
	inst.resolve = mod.ExportedFunction(exportResolve)
	inst.fuel, _ = mod.ExportedGlobal(meter.FuelExport).(api.MutableGlobal)
	inst.stack, _ = mod.ExportedGlobal(meter.StackExport).(api.MutableGlobal)
	if inst.resolve == nil || inst.fuel == nil || inst.stack == nil {
		inst.close()
		return nil, p.callError(KindInstantiate, errors.New("the module lacks the sandbox's exports"))
	}
	for _, name := range []string{meter.StartExport, exportInitialize, exportInit} {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			continue
		}
		inst.random.Seed(randSeed)
		inst.arm(b)
		results, err := fn.Call(inst.ctx)
		inst.budget = budget{}
		if err != nil {
			inst.close()
			if name == meter.StartExport {
				name = "the start function"
			}
			return nil, inst.classify(KindInit, fmt.Errorf("%s: %w", name, err))
		}
		if len(results) == 1 && int32(results[0]) != 0 && name == exportInit {
			inst.close()
			ce := p.callError(KindInit, nil)
			ce.Status, ce.Stderr = abi.Status(int32(results[0])), inst.stderr.String()
			return nil, ce
		}
	}
	return inst, nil
}

// call runs resolve once, within b.
func (inst *instance) call(in abi.Input, b budget) (Result, error) {
	p := inst.pool
	inst.frame = abi.AppendInput(inst.frame[:0], in)
	inst.output, inst.outputOverflow, inst.logLines = nil, false, 0
	inst.stderr.Reset()
	inst.random.Seed(randSeed)

	inst.arm(b)
	inst.inResolve = true
	inst.params[0] = api.EncodeU32(uint32(len(inst.frame)))
	err := inst.resolve.CallWithStack(inst.ctx, inst.params[:])
	inst.inResolve = false
	inst.budget = budget{}
	if err != nil {
		return Result{}, inst.classify(KindTrap, err)
	}
	status := abi.Status(api.DecodeI32(inst.params[0]))
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

// classify turns an error from wazero into a *CallError. fallback is the
// kind of any error that is not a check-in's verdict or an exit (a trap
// during a call, a failure during instantiation or init).
func (inst *instance) classify(fallback ErrorKind, err error) *CallError {
	kind := fallback
	var exit *sys.ExitError
	switch {
	case errors.Is(err, errDeadline):
		kind = KindTimeout
	case errors.Is(err, errCallerDone):
		kind = KindCanceled
	case errors.Is(err, errStackBudget):
		if fallback == KindTrap {
			kind = KindTrap
		}
	case errors.As(err, &exit) && fallback == KindTrap:
		kind = KindExit
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
