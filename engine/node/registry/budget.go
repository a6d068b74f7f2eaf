package registry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/meta"
)

// DefaultCPUMsPerSecond is the resolver time per second a namespace that
// sets no resolver_cpu_ms_per_second may use on a node, unless
// Config.DefaultCPUMsPerSecond says otherwise (the cluster's setting).
const DefaultCPUMsPerSecond = meta.DefaultResolverCPUMsPerSecond

// QueueWait bounds how long a resolver call waits for one of its
// namespace's resolver_concurrency slots (at most its own deadline): a call
// that cannot start by then is skipped like an over-budget one.
const QueueWait = 10 * time.Millisecond

// cpuBucket is a token bucket of resolver time: it refills at a rate of
// perSecond of resolver time per second of wall time, holding at most a
// tenth of a second's worth (burstFraction), so that a namespace's resolver
// time comes spread over the second rather than all at once (a burst of a
// whole second's worth, a few calls looping to their deadlines on every
// core at the same moment, is what other tenants' tail latency feels). A
// call may start while the bucket is not empty and is charged its running
// time once it ends, which may leave the bucket in debt: the calls after
// it wait until the debt is paid back. It is pure: callers pass the time,
// and lock.
type cpuBucket struct {
	tokens time.Duration
	last   time.Time
	primed bool
}

// allow refills the bucket up to now and reports whether a call may start.
func (b *cpuBucket) allow(now time.Time, perSecond time.Duration) bool {
	burst := perSecond / burstFraction
	if !b.primed {
		b.tokens, b.last, b.primed = burst, now, true
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		refill := time.Duration(float64(perSecond) * elapsed.Seconds())
		b.tokens = min(b.tokens+refill, burst)
		b.last = now
	}
	return b.tokens > 0
}

// burstFraction: a CPU bucket holds 1/burstFraction of a second's worth.
const burstFraction = 10

// charge takes d out of the bucket; a negative d gives it back (a refund
// of what a reservation took beyond the call's running time).
func (b *cpuBucket) charge(d time.Duration) { b.tokens -= d }

// gate holds one namespace's resolver budget on this node: its CPU
// bucket, its concurrency slots, and the calls it turned away. It is safe
// for concurrent use; namespaces never share one.
type gate struct {
	mu    sync.Mutex
	cpu   cpuBucket
	slots chan struct{} // capacity: the namespace's resolver_concurrency
	// skipped counts the calls turned away (the "budget" failure kind).
	skipped atomic.Uint64
}

// acquire decides whether a call may run now: the CPU bucket must not be
// empty, and a concurrency slot must come free within wait (or before ctx
// ends). A call that may run reserves reserve (its deadline: the most it
// can run) out of the bucket at once, so that calls starting together
// cannot all spend the same tokens; on success acquire returns the
// function that ends the call, charging its running time in place of the
// reservation; otherwise the call is counted as skipped.
func (g *gate) acquire(ctx context.Context, now time.Time, perSecond time.Duration, concurrency int, wait, reserve time.Duration) (end func(ran time.Duration), ok bool) {
	g.mu.Lock()
	allowed := g.cpu.allow(now, perSecond)
	if allowed {
		g.cpu.charge(reserve)
	}
	if g.slots == nil || cap(g.slots) != concurrency {
		// A changed limit takes effect at once; calls running on the
		// old slots release them there.
		g.slots = make(chan struct{}, concurrency)
	}
	slots := g.slots
	g.mu.Unlock()
	if allowed && !take(ctx, slots, wait) {
		g.mu.Lock()
		g.cpu.charge(-reserve)
		g.mu.Unlock()
		allowed = false
	}
	if !allowed {
		g.skipped.Add(1)
		return nil, false
	}
	return func(ran time.Duration) {
		<-slots
		g.mu.Lock()
		g.cpu.charge(max(ran, 0) - reserve)
		g.mu.Unlock()
	}, true
}

// take takes a slot, waiting at most wait.
func take(ctx context.Context, slots chan struct{}, wait time.Duration) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// budget returns the effective CPU rate and concurrency of a namespace:
// its own rate, at most the cluster's (which is also the rate of a
// namespace that sets none).
func (r *Registry) budget(ns meta.Namespace) (perSecond time.Duration, concurrency int) {
	cluster := uint32(DefaultCPUMsPerSecond)
	if r.cfg.DefaultCPUMsPerSecond != nil {
		if v := r.cfg.DefaultCPUMsPerSecond(); v > 0 {
			cluster = v
		}
	}
	ms := ns.Limits.ResolverCPUMsPerSecond
	if ms == 0 || ms > cluster {
		ms = cluster
	}
	c := ns.Limits.ResolverConcurrency
	if c == 0 {
		c = meta.DefaultResolverConcurrency
	}
	return time.Duration(ms) * time.Millisecond, int(c)
}

// gate returns a namespace's gate.
func (r *Registry) gate(name string) *gate {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.gates[name]
	if !ok {
		g = &gate{}
		r.gates[name] = g
	}
	return g
}

// skipped is the number of calls of a namespace turned away by its
// budget; r.mu is held.
func (r *Registry) skippedLocked(name string) uint64 {
	if g, ok := r.gates[name]; ok {
		return g.skipped.Load()
	}
	return 0
}
