package resolvers

import "time"

// Breaker defaults.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCoolDown  = 30 * time.Second
)

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
// Closed, it opens after Threshold consecutive failures. Open, it refuses
// calls for CoolDown, then half-opens: [Breaker.Allow] lets exactly one probe
// through; a success closes the breaker, a failure re-opens it for another
// CoolDown, and [Breaker.Abandon] (a probe that ended with no verdict, such
// as a canceled call) lets the next caller probe instead.
//
// Outcomes reported while open come from calls admitted before it opened;
// they are ignored.
type Breaker struct {
	threshold int
	coolDown  time.Duration

	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
}

// NewBreaker returns a closed breaker. A threshold ≤ 0 or a cool-down ≤ 0
// selects [DefaultBreakerThreshold] or [DefaultBreakerCoolDown].
func NewBreaker(threshold int, coolDown time.Duration) *Breaker {
	if threshold <= 0 {
		threshold = DefaultBreakerThreshold
	}
	if coolDown <= 0 {
		coolDown = DefaultBreakerCoolDown
	}
	return &Breaker{threshold: threshold, coolDown: coolDown}
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
	b.failures = 0
	b.probing = false
}

// Failure records a failed call that ended at time now.
func (b *Breaker) Failure(now time.Time) {
	switch b.state {
	case BreakerOpen:
		return
	case BreakerHalfOpen:
		b.open(now)
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.open(now)
	}
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

// Reset closes the breaker and forgets past failures (used when a namespace's
// module or config is replaced).
func (b *Breaker) Reset() {
	b.state = BreakerClosed
	b.failures = 0
	b.probing = false
	b.openedAt = time.Time{}
}

func (b *Breaker) open(now time.Time) {
	b.state = BreakerOpen
	b.openedAt = now
	b.probing = false
}
