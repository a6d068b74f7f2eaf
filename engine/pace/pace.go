// Package pace slows a node's background work (handoff, hint delivery,
// anti-entropy repair) while its foreground requests are slower than
// usual, and lets it run at full speed again once they recover.
//
// The measure is the latency of the client requests the node coordinates,
// not a count of requests in flight: a few slow requests matter, many fast
// ones do not. Every tick (a quarter second), the 90th percentile of the
// latencies of the requests finished during the tick is compared with the
// node's steady state, the lowest such percentile of the last minute of
// ticks (a mean hid the tail: background work tripled the p99 of requests
// whose mean hardly moved). A tick's 99th percentile (with a few dozen
// requests a tick, about its slowest) was tried and dropped: on a shared
// machine the share then stayed near its floor, and anti-entropy, which
// skips its exchanges below half, no longer finished a repair of 50,000
// keys in 30 s (docs/benchmarks.md). When it is more
// than [Threshold] times that, every background limiter's share of its
// maximum rate is halved (down to [MinShare]); otherwise the share grows
// back by a tenth of the maximum per tick (additive increase,
// multiplicative decrease, as TCP's congestion control). A tick with too
// few requests to judge leaves nothing to protect, and the share grows.
// Like TCP, a limiter also starts slow: work that begins after a pause
// runs at [SlowStart] of the share and doubles every tick, so that its
// first ticks, before the controller has judged any, are not its fastest.
//
// [Controller] is the pure core (no clock, no goroutines), tested with
// synthetic latencies; [Pacer] drives it and applies its share to token
// buckets the background loops wait on, one [Limiter] per kind of work,
// and reports both in [Stats] (the node exports them as metrics).
package pace

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The controller's constants.
const (
	// Threshold is how many times its steady state the foreground latency
	// (a tick's 90th percentile) may reach before background work is
	// slowed.
	Threshold = 2.0
	// MinShare is the least share of its maximum rate background work
	// keeps: repair and handoff must finish eventually.
	MinShare = 1.0 / 32
	// Step is what the share grows by per tick while foreground latency
	// is normal.
	Step = 0.1
	// History is how many ticks the steady state is the minimum over.
	History = 240
	// MinSamples is the fewest requests a tick needs to be judged.
	MinSamples = 8
)

// Controller turns latency observations into a share in [MinShare, 1].
// It is not safe for concurrent use ([Pacer] locks around it).
type Controller struct {
	tick    []time.Duration // the current tick's observations
	history []time.Duration // 90th percentiles of past judged ticks, oldest first
	share   float64
}

// NewController returns a controller at full share.
func NewController() *Controller { return &Controller{share: 1} }

// Observe records one foreground request's latency.
func (c *Controller) Observe(d time.Duration) {
	c.tick = append(c.tick, d)
}

// Tick ends the current tick and returns the new share.
func (c *Controller) Tick() float64 {
	n := len(c.tick)
	var p90 time.Duration
	if n > 0 {
		slices.Sort(c.tick)
		p90 = c.tick[n*9/10]
	}
	c.tick = c.tick[:0]
	if n < MinSamples {
		c.share = min(1, c.share+Step)
		return c.share
	}
	base, ok := c.steady()
	c.history = append(c.history, p90)
	if len(c.history) > History {
		c.history = c.history[1:]
	}
	if ok && float64(p90) > Threshold*float64(base) {
		c.share = max(MinShare, c.share/2)
	} else {
		c.share = min(1, c.share+Step)
	}
	return c.share
}

// Share returns the current share.
func (c *Controller) Share() float64 { return c.share }

// Steady returns the steady-state latency: the lowest 90th percentile of
// the judged ticks kept.
func (c *Controller) Steady() (time.Duration, bool) { return c.steady() }

func (c *Controller) steady() (time.Duration, bool) {
	if len(c.history) == 0 {
		return 0, false
	}
	low := c.history[0]
	for _, m := range c.history[1:] {
		low = min(low, m)
	}
	return low, true
}

// TickInterval is how often a Pacer is ticked.
const TickInterval = 250 * time.Millisecond

// Pacer measures foreground latency and paces background limiters. Its
// methods are safe for concurrent use.
type Pacer struct {
	mu       sync.Mutex
	ctl      *Controller
	limiters []*Limiter
}

// New returns a pacer at full share. Call Tick every TickInterval (the
// node runs it in a loop of package loop).
func New() *Pacer { return &Pacer{ctl: NewController()} }

// Observe records one foreground request's latency.
func (p *Pacer) Observe(d time.Duration) {
	p.mu.Lock()
	p.ctl.Observe(d)
	p.mu.Unlock()
}

// Share returns the share of their maximum rates background limiters run
// at now.
func (p *Pacer) Share() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctl.Share()
}

// Stats is a pacer's state as metrics export it.
type Stats struct {
	// Share is the share of their maximum rates the limiters run at, in
	// [MinShare, 1].
	Share float64
	// Rates is the rate each kind of background work is allowed now, in
	// units per second: the sum over the limiters of that kind.
	Rates map[string]float64
}

// Stats returns the current share and each kind's allowed rate.
func (p *Pacer) Stats() Stats {
	p.mu.Lock()
	st := Stats{Share: p.ctl.Share(), Rates: make(map[string]float64)}
	ls := p.limiters
	p.mu.Unlock()
	for _, l := range ls {
		st.Rates[l.kind] += l.Rate()
	}
	return st
}

// Tick ends a tick now and applies the new share to every limiter.
func (p *Pacer) Tick() {
	p.mu.Lock()
	share := p.ctl.Tick()
	ls := p.limiters
	p.mu.Unlock()
	for _, l := range ls {
		l.tick(share)
	}
}

// Slow start: background work that begins after a pause of IdleTicks
// ticks (a handoff, hint delivery once a node is back, anti-entropy
// repair after a partition heals) starts at SlowStart of the share and
// doubles each tick while it runs, so that its first quarter seconds, before the controller has
// judged anything, do not go at the full rate: in the tail benchmark the
// foreground's worst spikes came in a window's first ticks.
const (
	// SlowStart is the share of the pacer's share a limiter resumes at.
	SlowStart = 1.0 / 8
	// IdleTicks is how many ticks without work make a limiter start slow
	// again.
	IdleTicks = 4
)

// Limiter is a token bucket of one kind of background work whose rate is
// the pacer's share of its maximum. Background loops call Wait before each
// unit of work (an object transferred, a hint delivered, a key repaired).
type Limiter struct {
	kind string // the work it paces, as Stats names it
	used atomic.Bool
	mu   sync.Mutex
	max  float64 // units per second at full share
	tb   *rate.Limiter
	cur  float64 // the pacer's share last applied
	ramp float64 // slow start: the part of cur it may use, in [SlowStart, 1]; 1 until a pause
	idle int     // ticks in a row without work
}

// Limiter returns a new limiter of one kind of background work ("handoff",
// "hints", "aae": how [Pacer.Stats] names its rate) of at most perSecond
// units per second (at least 1), paced by p.
func (p *Pacer) Limiter(kind string, perSecond float64) *Limiter {
	perSecond = max(perSecond, 1)
	l := &Limiter{kind: kind, max: perSecond, tb: rate.NewLimiter(rate.Limit(perSecond), burstOf(perSecond)), cur: 1, ramp: 1}
	p.mu.Lock()
	p.limiters = append(p.limiters, l)
	share := p.ctl.Share()
	p.mu.Unlock()
	l.apply(share)
	return l
}

// SetMax changes the limiter's maximum rate (an operator's setting).
func (l *Limiter) SetMax(perSecond float64) {
	l.mu.Lock()
	l.max = max(perSecond, 1)
	share := l.cur
	l.mu.Unlock()
	l.apply(share)
}

// Rate returns the rate the limiter allows now, in units per second.
func (l *Limiter) Rate() float64 { return float64(l.tb.Limit()) }

// Max returns the limiter's maximum rate, in units per second.
func (l *Limiter) Max() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

func (l *Limiter) apply(share float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur = share
	l.setRateLocked()
}

// tick applies the pacer's share at the end of a tick and moves the slow
// start on: doubled after a tick with work, back to SlowStart after
// IdleTicks without.
func (l *Limiter) tick(share float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used.Swap(false) {
		l.idle = 0
		l.ramp = min(1, 2*l.ramp)
	} else if l.idle++; l.idle >= IdleTicks {
		l.ramp = SlowStart
	}
	l.cur = share
	l.setRateLocked()
}

func (l *Limiter) setRateLocked() {
	r := l.max * l.cur * l.ramp
	l.tb.SetLimit(rate.Limit(r))
	l.tb.SetBurst(burstOf(r))
}

// BurstWindow is how much of its rate a limiter lets go at once: 10 ms
// of work at the rate allowed now. The bucket used to hold a tenth of a
// second's work at the maximum rate (2,000 handoff objects) whatever the
// share, so a paced-down limiter still let its work go in bursts.
const BurstWindow = 10 * time.Millisecond

func burstOf(perSecond float64) int { return max(int(perSecond*BurstWindow.Seconds()), 1) }

// Wait blocks until n units of work may go, or ctx ends. A batch larger
// than the bucket waits for its units in bucket-sized parts. A nil
// Limiter never waits (tests of a single loop).
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return ctx.Err()
	}
	l.used.Store(true)
	for n > 0 {
		k := min(n, l.tb.Burst())
		if err := l.tb.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
