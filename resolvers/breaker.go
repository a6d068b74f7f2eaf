package resolvers

import (
	"math"
	"time"
)

// Breaker defaults.
const (
	// DefaultBreakerThreshold is the number of failures in a row that open
	// a breaker.
	DefaultBreakerThreshold = 5
	// DefaultBreakerTimeoutThreshold is the number of deadline timeouts in
	// a row that open it: the first. A timeout is the costly failure — the
	// guest ran for its whole deadline, and wazero's compiled code is not
	// preempted by Go's scheduler, so it held a core (a P) all that time
	// — while a trap or a bad status costs microseconds.
	DefaultBreakerTimeoutThreshold = 1
	// DefaultBreakerCoolDown is how long a breaker stays open after it
	// opens from closed.
	DefaultBreakerCoolDown = 30 * time.Second
	// DefaultBreakerMaxCoolDown bounds the cool-down, which doubles with
	// every failed probe in a row.
	DefaultBreakerMaxCoolDown = 8 * DefaultBreakerCoolDown
)

// BreakerConfig configures a [Breaker]. Zero fields take their defaults.
type BreakerConfig struct {
	// Threshold: failures in a row (timeouts included) that open the
	// breaker. Default [DefaultBreakerThreshold].
	Threshold int
	// TimeoutThreshold: deadline timeouts ([KindTimeout]) since the last
	// success that open it, whatever Threshold says. Default
	// [DefaultBreakerTimeoutThreshold].
	TimeoutThreshold int
	// CoolDown: how long it stays open after opening from closed. Default
	// [DefaultBreakerCoolDown].
	CoolDown time.Duration
	// MaxCoolDown: each failed probe re-opens it for twice the previous
	// cool-down, up to MaxCoolDown (at least CoolDown). Default
	// [DefaultBreakerMaxCoolDown], or CoolDown if that is longer.
	MaxCoolDown time.Duration
}

// BreakerNeverOpens returns the configuration of a breaker that never
// opens, for callers that want every call's outcome (the upload checks).
func BreakerNeverOpens() BreakerConfig {
	return BreakerConfig{Threshold: math.MaxInt, TimeoutThreshold: math.MaxInt}
}

// withDefaults returns c with its zero fields set.
func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Threshold <= 0 {
		c.Threshold = DefaultBreakerThreshold
	}
	if c.TimeoutThreshold <= 0 {
		c.TimeoutThreshold = DefaultBreakerTimeoutThreshold
	}
	if c.CoolDown <= 0 {
		c.CoolDown = DefaultBreakerCoolDown
	}
	if c.MaxCoolDown <= 0 {
		c.MaxCoolDown = DefaultBreakerMaxCoolDown
	}
	c.MaxCoolDown = max(c.MaxCoolDown, c.CoolDown)
	return c
}

// BreakerState is the state of a [Breaker].
type BreakerState int

// Breaker states.
const (
	// BreakerClosed: calls go through; consecutive failures are counted.
	BreakerClosed BreakerState = iota
	// BreakerOpen: calls are refused until the cool-down has passed.
	BreakerOpen
	// BreakerHalfOpen: the cool-down has passed; one probe call goes
	// through, and its outcome closes or re-opens the breaker.
	BreakerHalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "BreakerState(?)"
}

// Breaker is a consecutive-failure circuit breaker. It is pure: it never
// reads the clock (the caller passes now) and starts no goroutines. It is not
// safe for concurrent use; [Pool] guards its breaker with its mutex.
//
// Closed, it opens after Threshold failures in a row, or at once after
// TimeoutThreshold of them that were deadline timeouts. Open, it refuses
// calls for its cool-down, then half-opens: [Breaker.Allow] lets exactly
// one probe through; a success closes the breaker (and the cool-down goes
// back to CoolDown), a failure re-opens it for twice the last cool-down
// (at most MaxCoolDown), and [Breaker.Abandon] (a probe that ended with
// no verdict, such as a canceled call) lets the next caller probe instead.
//
// Outcomes reported while open come from calls admitted before it opened;
// they are ignored.
type Breaker struct {
	cfg BreakerConfig

	state    BreakerState
	failures int
	timeouts int
	coolDown time.Duration // of the current (or next) opening
	openedAt time.Time
	probing  bool
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	cfg = cfg.withDefaults()
	return &Breaker{cfg: cfg, coolDown: cfg.CoolDown}
}

// Allow reports whether a call may proceed at time now. When it returns true
// the caller must report the outcome with Success, Failure or Abandon.
func (b *Breaker) Allow(now time.Time) bool {
	switch b.state {
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.coolDown {
			return false
		}
		b.state = BreakerHalfOpen
		b.probing = true
		return true
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

// Success records a successful call.
func (b *Breaker) Success() {
	if b.state == BreakerOpen {
		return
	}
	b.state = BreakerClosed
	b.failures, b.timeouts = 0, 0
	b.coolDown = b.cfg.CoolDown
	b.probing = false
}

// Failure records a failed call of kind k that ended at time now.
func (b *Breaker) Failure(now time.Time, k ErrorKind) {
	switch b.state {
	case BreakerOpen:
		return
	case BreakerHalfOpen:
		b.coolDown = min(2*b.coolDown, b.cfg.MaxCoolDown)
		b.open(now)
		return
	}
	b.failures++
	if k == KindTimeout {
		b.timeouts++
	}
	if b.failures >= b.cfg.Threshold || b.timeouts >= b.cfg.TimeoutThreshold {
		b.open(now)
	}
}

// OpenUntil follows another node's breaker of the same module, which
// opened until ends: calls made here meanwhile would most likely fail the
// same way. Exactly one node should probe the module when the cool-down
// ends: the one whose opening ends first. So an opening of this breaker
// that ends no later than ends is kept (this node probes first); a later
// one, or a closed breaker, or a half-open one with no probe in flight,
// is open until ends and grace after it, by which time the other node's
// probe has either closed its breaker or re-opened it and said so again;
// a probe in flight keeps its verdict to come. The opening lasts at most
// MaxCoolDown from now (another node's clock may be ahead), and a probe
// that fails after it re-opens the breaker for twice its length, as after
// an opening of its own. It reports whether the breaker changed.
func (b *Breaker) OpenUntil(now, ends time.Time, grace time.Duration) bool {
	until := minTime(ends.Add(grace), now.Add(b.cfg.MaxCoolDown))
	if !until.After(now) {
		return false
	}
	switch b.state {
	case BreakerOpen:
		// An opening whose cool-down has passed is half-open: it follows.
		if own := b.openedAt.Add(b.coolDown); own.After(now) && (!own.After(ends) || !own.Before(until)) {
			return false
		}
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
	}
	b.state = BreakerOpen
	b.openedAt = now
	b.coolDown = until.Sub(now)
	b.probing = false
	return true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Abandon records a call that ended without a verdict on the module.
func (b *Breaker) Abandon() {
	if b.state == BreakerHalfOpen {
		b.probing = false
	}
}

// State returns the state as of now: an open breaker whose cool-down has
// passed reports BreakerHalfOpen.
func (b *Breaker) State(now time.Time) BreakerState {
	if b.state == BreakerOpen && now.Sub(b.openedAt) >= b.coolDown {
		return BreakerHalfOpen
	}
	return b.state
}

// Failures returns the current count of consecutive failures.
func (b *Breaker) Failures() int { return b.failures }

// CoolDown returns the cool-down of the current opening (or of the next,
// when closed).
func (b *Breaker) CoolDown() time.Duration { return b.coolDown }

// Reset closes the breaker and forgets past failures (used when a namespace's
// module or config is replaced).
func (b *Breaker) Reset() {
	b.state = BreakerClosed
	b.failures, b.timeouts = 0, 0
	b.coolDown = b.cfg.CoolDown
	b.probing = false
	b.openedAt = time.Time{}
}

func (b *Breaker) open(now time.Time) {
	b.state = BreakerOpen
	b.openedAt = now
	b.probing = false
}
