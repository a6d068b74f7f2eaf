package resolvers_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// logRecords returns a runtime whose log lines are kept, and a function
// returning those seen so far.
func logRecords(t *testing.T, opts resolvers.Options) (*resolvers.Runtime, func() []slog.Record) {
	t.Helper()
	var mu sync.Mutex
	var records []slog.Record
	h := &recorder{records: &records}
	opts.Logger = slog.New(lockedHandler{&mu, h})
	rt := newRuntime(t, opts)
	return rt, func() []slog.Record {
		mu.Lock()
		defer mu.Unlock()
		return append([]slog.Record(nil), records...)
	}
}

// lockedHandler serializes a recorder shared by goroutines (the pool logs
// from the calling goroutine and from background starts).
type lockedHandler struct {
	mu *sync.Mutex
	h  slog.Handler
}

func (l lockedHandler) Enabled(ctx context.Context, lv slog.Level) bool { return true }
func (l lockedHandler) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.Handle(ctx, r)
}
func (l lockedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lockedHandler{l.mu, l.h.WithAttrs(as)}
}
func (l lockedHandler) WithGroup(g string) slog.Handler { return lockedHandler{l.mu, l.h.WithGroup(g)} }

// onGuestLog is a log handler that signals each line a guest logs on its
// channel, without blocking (the signal is that a line came, not how many).
type onGuestLog chan<- struct{}

func (c onGuestLog) Enabled(context.Context, slog.Level) bool { return true }
func (c onGuestLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "resolver log" {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	return nil
}
func (c onGuestLog) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c onGuestLog) WithGroup(string) slog.Handler      { return c }

func attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	return m
}

// TestTimeoutsOpenTheBreaker: calls stopped at their deadline are failures
// the breaker counts, whether the deadline is the pool's, the caller's
// context's (Resolve takes it as the call's own) or ResolveWithin's: by
// default the first opens it; with a TimeoutThreshold of 3 the third
// does, and not the ones before. Each is logged with the namespace, and so
// is the breaker opening.
func TestTimeoutsOpenTheBreaker(t *testing.T) {
	t.Parallel()
	ways := map[string]func(p *resolvers.Pool) error{
		"pool deadline": func(p *resolvers.Pool) error {
			_, err := p.Resolve(context.Background(), values("L"))
			return err
		},
		"context deadline": func(p *resolvers.Pool) error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err := p.Resolve(ctx, values("L"))
			return err
		},
		"ResolveWithin": func(p *resolvers.Pool) error {
			_, err := p.ResolveWithin(context.Background(), values("L"), 20*time.Millisecond)
			return err
		},
	}
	thresholds := []struct {
		name     string
		cfg      resolvers.BreakerConfig
		timeouts int // that open it
	}{
		{"default", resolvers.BreakerConfig{}, resolvers.DefaultBreakerTimeoutThreshold},
		{"threshold 3", resolvers.BreakerConfig{TimeoutThreshold: 3}, 3},
	}
	for name, call := range ways {
		for _, th := range thresholds {
			t.Run(name+"/"+th.name, func(t *testing.T) {
				t.Parallel()
				rt, logs := logRecords(t, resolvers.Options{})
				m, err := rt.Compile(t.Context(), wasmOf(t, "hostile"))
				if err != nil {
					t.Fatal(err)
				}
				deadline := 20 * time.Millisecond
				if name == "context deadline" || name == "ResolveWithin" {
					deadline = 10 * time.Second // the shorter deadline comes from the call
				}
				p := resolvers.NewPool(m, "shop", nil, resolvers.Limits{Deadline: deadline}, resolvers.WithBreaker(th.cfg))
				defer p.Close(t.Context())
				for i := range th.timeouts {
					if p.BreakerState() != resolvers.BreakerClosed {
						t.Fatalf("after %d timeouts the breaker is %s, want closed until %d", i, p.BreakerState(), th.timeouts)
					}
					// A timed-out instance is discarded: start the next one
					// ahead, so that a slow start on a loaded machine does not
					// eat the call's deadline.
					if err := p.Warm(t.Context()); err != nil {
						t.Fatal(err)
					}
					if err := call(p); callKind(err) != resolvers.KindTimeout {
						t.Fatalf("call %d: %v, want a timeout", i, err)
					}
				}
				if _, err := p.Resolve(t.Context(), values("good")); !errors.Is(err, resolvers.ErrBreakerOpen) {
					t.Fatalf("after %d timeouts: %v, want ErrBreakerOpen", th.timeouts, err)
				}
				if s := p.Stats(); s.Failures[resolvers.KindTimeout] != uint64(th.timeouts) || s.Breaker != resolvers.BreakerOpen {
					t.Errorf("stats: %d timeouts, breaker %s; want %d, open", s.Failures[resolvers.KindTimeout], s.Breaker, th.timeouts)
				}
				var failed, opened int
				for _, r := range logs() {
					a := attrs(r)
					if a["namespace"] != "shop" {
						continue
					}
					switch {
					case strings.Contains(r.Message, "call failed") && a["kind"] == "timeout" && r.Level == slog.LevelWarn:
						failed++
					case strings.Contains(r.Message, "breaker opened") && r.Level == slog.LevelWarn:
						opened++
					}
				}
				if failed != th.timeouts || opened != 1 {
					t.Errorf("logged %d timeouts and %d breaker openings with the namespace, want %d and 1", failed, opened, th.timeouts)
				}
			})
		}
	}
}

// TestCallerGivingUpIsNotCounted: with ResolveWithin, the caller's context
// ending first (canceled or past its own, shorter deadline) stops the guest
// and is not the module's failure.
func TestCallerGivingUpIsNotCounted(t *testing.T) {
	t.Parallel()
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{Deadline: 10 * time.Second}, resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 1, CoolDown: time.Minute}))
	mustResolve(t, p, values("warm"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := p.ResolveWithin(ctx, values("L"), 5*time.Second)
	if callKind(err) != resolvers.KindCanceled {
		t.Fatalf("ResolveWithin = %v, want KindCanceled", err)
	}
	if p.BreakerState() != resolvers.BreakerClosed {
		t.Errorf("breaker %s, want closed", p.BreakerState())
	}
	mustResolve(t, p, values("good"))
}

// TestEveryRunawayIsStopped: guests that run long without a loop (tree
// recursion), in host calls (directly or through a table), or in bulk
// memory operations are all stopped at their deadline; unbounded recursion
// is stopped by the stack budget; a table cannot grow past its cap.
func TestEveryRunawayIsStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd      string
		deadline time.Duration
		kind     resolvers.ErrorKind
		detail   string
	}{
		{"R", 20 * time.Millisecond, resolvers.KindTimeout, "deadline"},
		{"F", 20 * time.Millisecond, resolvers.KindTimeout, "deadline"},
		{"H", 20 * time.Millisecond, resolvers.KindTimeout, "deadline"},
		{"I", 20 * time.Millisecond, resolvers.KindTimeout, "deadline"},
		// A generous deadline: the stack budget, not the clock, stops it.
		{"D", 10 * time.Second, resolvers.KindTrap, "stack budget"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			// The breaker, which a timeout opens, is not what this tests:
			// the pool must serve again once the runaway is stopped.
			p := newPool(t, "runaway", "ns", nil, resolvers.Limits{Deadline: tt.deadline, MemoryPages: 16}, resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
			mustResolve(t, p, values("warm"))
			start := time.Now()
			_, err := p.Resolve(t.Context(), values(tt.cmd))
			t.Logf("%s: stopped after %v: %v", tt.cmd, time.Since(start), err)
			var ce *resolvers.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind || !strings.Contains(ce.Error(), tt.detail) {
				t.Fatalf("Resolve(%s) = %v, want %s mentioning %q", tt.cmd, err, tt.kind, tt.detail)
			}
			mustResolve(t, p, values("good"))
		})
	}
	t.Run("table cap", func(t *testing.T) {
		t.Parallel()
		p := newPool(t, "runaway", "ns", nil, resolvers.Limits{})
		if res := mustResolve(t, p, values("G")); res.Status != abi.StatusDefer {
			t.Errorf("table.grow past the cap: status %s, want DEFER (grow refused)", res.Status)
		}
	})
}

// TestStartFunctionIsBounded: a start function that never returns fails
// the cold start at the init deadline, counted by the breaker.
func TestStartFunctionIsBounded(t *testing.T) {
	t.Parallel()
	p := newPool(t, "start_loop", "ns", nil, resolvers.Limits{InitDeadline: 20 * time.Millisecond}, resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 1, CoolDown: time.Minute}))
	_, err := p.Resolve(t.Context(), values("x"))
	if callKind(err) != resolvers.KindTimeout || !strings.Contains(err.Error(), "start function") {
		t.Fatalf("Resolve = %v, want a timeout in the start function", err)
	}
	if p.BreakerState() != resolvers.BreakerOpen {
		t.Errorf("breaker %s, want open", p.BreakerState())
	}
}

// TestColdStartOutlivesTheCall: ResolveWithin returns at its deadline while
// a slow (but correct) init goes on; the instance then serves the next
// calls.
func TestColdStartOutlivesTheCall(t *testing.T) {
	t.Parallel()
	config := []byte{0, 0, 0, 0x08} // 2^27 iterations: far longer than 1 ms anywhere
	p := newPool(t, "slow_init", "ns", config, resolvers.Limits{InitDeadline: time.Minute}, resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 1, CoolDown: time.Minute}))
	_, err := p.ResolveWithin(t.Context(), values("x"), time.Millisecond)
	if callKind(err) != resolvers.KindNotRun {
		t.Fatalf("ResolveWithin = %v, want KindNotRun", err)
	}
	for p.Stats().Idle == 0 { // the start goes on in the background
		select {
		case <-t.Context().Done():
			t.Fatal("the instance never started")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if res, err := p.ResolveWithin(t.Context(), values("x"), time.Second); err != nil || res.Status != abi.StatusDefer {
		t.Fatalf("next call: %v %v, want DEFER", res.Status, err)
	}
	if s := p.Stats(); s.ColdStarts != 1 || s.Breaker != resolvers.BreakerClosed {
		t.Errorf("cold starts %d, breaker %s; want 1, closed", s.ColdStarts, s.Breaker)
	}
}

// TestGuestDoesNotBlockGC: a guest spinning in a loop still lets the Go
// runtime stop the world: it checks in with the host (Go code) regularly.
// Without that, runtime.GC would wait for the guest's deadline.
func TestGuestDoesNotBlockGC(t *testing.T) {
	t.Parallel()
	spinning := make(chan struct{}, 1)
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{Deadline: 20 * time.Second},
		resolvers.WithLogger(slog.New(onGuestLog(spinning))))
	mustResolve(t, p, values("warm"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p.Resolve(ctx, values("H")) // log a line, then loop
		done <- err
	}()
	select {
	case <-spinning:
	case err := <-done:
		t.Fatalf("the guest returned before it logged: %v", err)
	case <-t.Context().Done():
		t.Fatal("the guest never logged its line")
	}
	// Twice: the first may find the guest still on its way back from the
	// log call, in Go code, which the runtime can stop without a check-in.
	runtime.GC()
	runtime.GC()
	select {
	case err := <-done:
		t.Fatalf("the guest returned before the GC: %v", err)
	default:
	}
	cancel()
	if err := <-done; callKind(err) != resolvers.KindCanceled {
		t.Fatalf("Resolve = %v, want KindCanceled", err)
	}
}

// TestLongCallYieldsItsCore: a call that runs long (a guest looping
// towards its deadline) gives its core to other goroutines at its
// check-ins, since Go's scheduler cannot preempt the guest's compiled
// code; a short call never does.
func TestLongCallYieldsItsCore(t *testing.T) {
	t.Parallel()
	var yields atomic.Int64
	yielded := make(chan struct{}, 1)
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{Deadline: 20 * time.Second},
		resolvers.WithYield(func() {
			yields.Add(1)
			select {
			case yielded <- struct{}{}:
			default:
			}
			runtime.Gosched()
		}))
	mustResolve(t, p, values("warm"))
	if n := yields.Load(); n != 0 {
		t.Fatalf("a short call yielded %d times, want none", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p.Resolve(ctx, values("L")) // loop until stopped
		done <- err
	}()
	select {
	case <-yielded:
	case err := <-done:
		t.Fatalf("the looping call ended without yielding: %v", err)
	}
	cancel()
	if err := <-done; callKind(err) != resolvers.KindCanceled {
		t.Fatalf("Resolve = %v, want KindCanceled", err)
	}
}

// TestLimitCaps: the runtime's caps refuse larger limits (CheckLimits) and
// lower them in a pool, with a warning.
func TestLimitCaps(t *testing.T) {
	t.Parallel()
	rt, logs := logRecords(t, resolvers.Options{MaxLimits: resolvers.Limits{MemoryPages: 32}})
	if err := rt.CheckLimits(resolvers.Limits{MemoryPages: 64}); !errors.Is(err, resolvers.ErrLimitExceeded) {
		t.Errorf("CheckLimits(64 pages) = %v, want ErrLimitExceeded", err)
	}
	if err := rt.CheckLimits(resolvers.Limits{MemoryPages: 32}); err != nil {
		t.Errorf("CheckLimits(32 pages) = %v", err)
	}
	if err := newRuntime(t, resolvers.Options{}).CheckLimits(resolvers.Limits{MemoryPages: 16384}); !errors.Is(err, resolvers.ErrLimitExceeded) {
		t.Errorf("1 GiB per instance under the default cap: %v, want ErrLimitExceeded", err)
	}
	m, err := rt.Compile(t.Context(), wasmOf(t, "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	p := resolvers.NewPool(m, "ns", nil, resolvers.Limits{MemoryPages: 64, Deadline: 10 * time.Second})
	defer p.Close(t.Context())
	if got := p.Limits().MemoryPages; got != 32 {
		t.Errorf("pool memory pages %d, want the cap 32", got)
	}
	if got := u32(mustResolve(t, p, values("M")).Value); got != 32 {
		t.Errorf("memory grew to %d pages, want 32", got)
	}
	warned := false
	for _, r := range logs() {
		warned = warned || (strings.Contains(r.Message, "caps") && attrs(r)["namespace"] == "ns")
	}
	if !warned {
		t.Error("no warning that the limits were lowered")
	}
}

// TestWarm starts an instance ahead of the first call, and reports a start
// that fails.
func TestWarm(t *testing.T) {
	t.Parallel()
	p := newPool(t, "longest", "ns", nil, resolvers.Limits{})
	if err := p.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Idle != 1 || s.ColdStarts != 1 || s.Calls != 0 {
		t.Errorf("after Warm: idle %d, cold starts %d, calls %d; want 1, 1, 0", s.Idle, s.ColdStarts, s.Calls)
	}
	mustResolve(t, p, values("a"))
	if s := p.Stats(); s.ColdStarts != 1 {
		t.Errorf("the call started another instance")
	}
	bad := newPool(t, "start_loop", "ns", nil, resolvers.Limits{InitDeadline: 20 * time.Millisecond})
	if err := bad.Warm(t.Context()); callKind(err) != resolvers.KindTimeout {
		t.Errorf("Warm of a start that never ends: %v, want a timeout", err)
	}
}
