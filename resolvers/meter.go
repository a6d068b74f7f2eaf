package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/concord-kv/concord/resolvers/internal/meter"
)

// The deadline of a call is enforced by the guest itself: [Runtime.Compile]
// rewrites every module (package internal/meter) to count its work in a
// fuel global and its stack in another, and to call the host's check-in
// when either runs out. The check-in (here) reads the clock and the
// caller's context, and either refills the fuel or stops the call with a
// trap. See RATIONALE.md for why this replaced wazero's
// WithCloseOnContextDone.

// fuelQuantum is the fuel a call gets at its start and at each check-in:
// about as many wasm instructions. At ~0.3-1 ns per instruction a check-in
// happens every 40-130 µs of guest execution; memory-bound code (a cache
// miss per few instructions) stretches that to a few milliseconds, which
// bounds how late past its deadline a call can be stopped.
const fuelQuantum = 1 << 17

// stackBudget is what a call's frames may add up to, in the meter's frame
// estimate ([meter.Costs] FrameBase + FrameSlot × parameters and locals,
// two to four times wazero's real frames): about 50 000 frames of a small
// function, 15 000 of a Go function. A runaway recursion is stopped within
// a few milliseconds, having allocated about 10 MB of stack; wazero's own
// ceiling is about 5 million frames and 100 MB.
const stackBudget = 4 << 20

// yieldEvery is how long a call runs between two yields of its core: at
// the first check-in past it, the call gives its P to whatever else is
// runnable (the pool's yield: runtime.Gosched) and goes on when the
// scheduler comes back to it. wazero's compiled code is not preempted by
// Go's scheduler, which only asks a goroutine to stop after 10 ms on a P
// (honoured at the next check-in): a call looping to a 20 ms deadline
// would hold one of a 2-core node's two Ps that long at a time, every
// tenant's requests waiting behind it. Calls shorter than yieldEvery
// (almost all: microseconds) never yield.
const yieldEvery = time.Millisecond

// meterConfig is how Compile instruments modules.
var meterConfig = meter.Config{Costs: meter.DefaultCosts, MaxTableElements: maxTableElements}

// maxTableElements caps every table of a module (8 bytes each): tables are
// not counted in the memory limit.
const maxTableElements = 1 << 20

// Why a call was stopped at a check-in.
var (
	// errDeadline: the call's own deadline passed.
	errDeadline = errors.New("resolvers: the call ran past its deadline")
	// errCallerDone: the caller's context ended (the client went away).
	errCallerDone = errors.New("resolvers: the caller's context ended")
	// errStackBudget: the call's frames went over the stack budget.
	errStackBudget = errors.New("resolvers: call stack budget exceeded (recursion too deep)")
)

// meterHostModule defines the check-in the instrumented modules import.
func meterHostModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	return rt.NewHostModuleBuilder(meter.HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(checkin), nil, nil).
		Export(meter.CheckinName)
}

// budget is what one call into a guest may spend, and how it ends early.
type budget struct {
	deadline time.Time
	// done is the caller's context's Done channel (nil: never).
	done <-chan struct{}
	// ctxDeadline: the caller's context's deadline is the call's own (a
	// context that ends with DeadlineExceeded stops the call as a timeout,
	// not as a cancellation). See Pool.Resolve.
	ctxDeadline bool
	ctx         context.Context
}

// checkin is called by a guest whose fuel or stack budget ran out.
func checkin(ctx context.Context, _ api.Module, _ []uint64) {
	inst := instanceFrom(ctx)
	if inst == nil || inst.fuel == nil {
		panic(errDeadline) // not a call the pool made: stop it
	}
	inst.checkins++
	if int32(uint32(inst.stack.Get())) < 0 {
		panic(errStackBudget)
	}
	b := &inst.budget
	now := time.Now()
	if !now.Before(b.deadline) {
		panic(errDeadline)
	}
	select {
	case <-b.done:
		if b.ctxDeadline && errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
			panic(errDeadline)
		}
		panic(errCallerDone)
	default:
	}
	if now.Sub(inst.yielded) >= yieldEvery {
		inst.pool.yield()
		inst.yielded = time.Now()
	}
	inst.fuel.Set(fuelQuantum)
}

// arm gives an instance a fresh budget before a call into it.
func (inst *instance) arm(b budget) {
	inst.budget = b
	inst.yielded = time.Now()
	inst.fuel.Set(fuelQuantum)
	inst.stack.Set(uint64(uint32(stackBudget)))
}
