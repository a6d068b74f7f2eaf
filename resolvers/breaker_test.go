package resolvers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
)

// TestBreaker runs scripted scenarios against the pure breaker with a fake
// clock. Each step is an action at an offset from t0 and the state after it.
func TestBreaker(t *testing.T) {
	t.Parallel()
	type step struct {
		at     time.Duration
		action string // "allow", "deny" (Allow must be false), "ok", "fail" (a trap), "timeout", "abandon", "reset", "peer@D" (OpenUntil t0+D)
		state  resolvers.BreakerState
	}
	const (
		closed   = resolvers.BreakerClosed
		open     = resolvers.BreakerOpen
		halfOpen = resolvers.BreakerHalfOpen
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{"opens after threshold consecutive failures", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open}, {time.Second, "deny", open},
		}},
		{"a success resets the count", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "ok", closed},
			{0, "fail", closed}, {0, "fail", closed}, {0, "allow", closed},
		}},
		{"stays open for the cool-down", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{29 * time.Second, "deny", open},
			{30 * time.Second, "allow", halfOpen},
		}},
		{"half-open lets one probe through", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{30 * time.Second, "allow", halfOpen},
			{30 * time.Second, "deny", halfOpen},
			{31 * time.Second, "ok", closed},
			{31 * time.Second, "allow", closed},
		}},
		{"a failed probe re-opens for twice the cool-down", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{30 * time.Second, "allow", halfOpen},
			{31 * time.Second, "fail", open},
			{90 * time.Second, "deny", open},
			{91 * time.Second, "allow", halfOpen},
		}},
		{"a timeout opens it at once", []step{
			{0, "timeout", open}, {29 * time.Second, "deny", open}, {30 * time.Second, "allow", halfOpen},
		}},
		{"other failures before a timeout do not change that", []step{
			{0, "fail", closed}, {0, "timeout", open},
		}},
		{"failed probes double the cool-down up to the maximum; a success restores it", []step{
			{0, "timeout", open},
			{30 * time.Second, "allow", halfOpen}, {30 * time.Second, "timeout", open}, // 60 s
			{89 * time.Second, "deny", open}, {90 * time.Second, "allow", halfOpen}, {90 * time.Second, "timeout", open}, // 120 s
			{209 * time.Second, "deny", open}, {210 * time.Second, "allow", halfOpen}, {210 * time.Second, "fail", open}, // 120 s: the maximum
			{329 * time.Second, "deny", open}, {330 * time.Second, "allow", halfOpen}, {330 * time.Second, "ok", closed},
			{330 * time.Second, "timeout", open}, {359 * time.Second, "deny", open}, {360 * time.Second, "allow", halfOpen},
		}},
		{"reset restores the cool-down", []step{
			{0, "timeout", open}, {30 * time.Second, "allow", halfOpen}, {30 * time.Second, "timeout", open},
			{30 * time.Second, "reset", closed}, {30 * time.Second, "timeout", open}, {60 * time.Second, "allow", halfOpen},
		}},
		{"an abandoned probe lets another caller probe", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{30 * time.Second, "allow", halfOpen},
			{30 * time.Second, "abandon", halfOpen},
			{30 * time.Second, "allow", halfOpen},
			{30 * time.Second, "deny", halfOpen},
		}},
		{"late outcomes while open are ignored", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{time.Second, "ok", open}, {2 * time.Second, "fail", open},
			{30 * time.Second, "allow", halfOpen}, // cool-down counts from the first opening
		}},
		{"reset closes", []step{
			{0, "fail", closed}, {0, "fail", closed}, {0, "fail", open},
			{0, "reset", closed}, {0, "allow", closed},
		}},
		// "peer@D": another node's breaker opened until t0+D; the grace
		// is 5 s.
		{"another node's opening opens it until it ends and the grace", []step{
			{0, "peer@45s", open}, {49 * time.Second, "deny", open}, {50 * time.Second, "allow", halfOpen},
		}},
		{"an opening of its own that ends first is kept: this node probes first", []step{
			{0, "timeout", open}, {time.Second, "peer@31s", open}, {30 * time.Second, "allow", halfOpen},
		}},
		{"an opening of its own that ends later waits for the other's probe", []step{
			{0, "timeout", open}, {0, "peer@28s", open}, {32 * time.Second, "deny", open}, {33 * time.Second, "allow", halfOpen},
		}},
		{"an opening of its own that ends after the grace is kept", []step{
			{0, "timeout", open}, {0, "peer@20s", open}, {29 * time.Second, "deny", open}, {30 * time.Second, "allow", halfOpen},
		}},
		{"a probe in flight keeps its verdict", []step{
			{0, "timeout", open}, {30 * time.Second, "allow", halfOpen}, {30 * time.Second, "peer@90s", halfOpen},
			{31 * time.Second, "ok", closed}, {31 * time.Second, "allow", closed},
		}},
		{"a half-open breaker with no probe in flight follows", []step{
			{0, "timeout", open}, {30 * time.Second, "peer@60s", open}, {64 * time.Second, "deny", open}, {65 * time.Second, "allow", halfOpen},
		}},
		{"another node's opening lasts at most the maximum cool-down", []step{
			{0, "peer@1h", open}, {119 * time.Second, "deny", open}, {120 * time.Second, "allow", halfOpen},
		}},
		{"a failed probe after it re-opens for twice its length", []step{
			{0, "peer@40s", open}, {45 * time.Second, "allow", halfOpen}, {45 * time.Second, "timeout", open},
			{134 * time.Second, "deny", open}, {135 * time.Second, "allow", halfOpen},
		}},
		{"an opening already over changes nothing", []step{
			{10 * time.Second, "peer@2s", closed}, {10 * time.Second, "allow", closed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := resolvers.NewBreaker(resolvers.BreakerConfig{Threshold: 3, CoolDown: 30 * time.Second, MaxCoolDown: 2 * time.Minute})
			t0 := time.Unix(1_000_000, 0)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.action {
				case "allow", "deny":
					if got := b.Allow(now); got != (s.action == "allow") {
						t.Fatalf("step %d: Allow at +%v = %v", i, s.at, got)
					}
				case "ok":
					b.Success()
				case "fail":
					b.Failure(now, resolvers.KindTrap)
				case "timeout":
					b.Failure(now, resolvers.KindTimeout)
				case "abandon":
					b.Abandon()
				case "reset":
					b.Reset()
				default:
					d, err := time.ParseDuration(strings.TrimPrefix(s.action, "peer@"))
					if err != nil || !strings.HasPrefix(s.action, "peer@") {
						t.Fatalf("step %d: unknown action %q", i, s.action)
					}
					b.OpenUntil(now, t0.Add(d), 5*time.Second)
				}
				if got := b.State(now); got != s.state {
					t.Fatalf("step %d (%s at +%v): state %s, want %s", i, s.action, s.at, got, s.state)
				}
			}
		})
	}
}

// TestBreakerTimeoutThreshold: with a TimeoutThreshold above one, timeouts
// since the last success are counted, apart from other failures.
func TestBreakerTimeoutThreshold(t *testing.T) {
	t.Parallel()
	b := resolvers.NewBreaker(resolvers.BreakerConfig{Threshold: 10, TimeoutThreshold: 2})
	t0 := time.Unix(1_000_000, 0)
	b.Failure(t0, resolvers.KindTimeout)
	b.Success()
	b.Failure(t0, resolvers.KindTimeout)
	b.Failure(t0, resolvers.KindTrap)
	if got := b.State(t0); got != resolvers.BreakerClosed {
		t.Fatalf("one timeout since the last success: %s, want closed", got)
	}
	b.Failure(t0, resolvers.KindTimeout)
	if got := b.State(t0); got != resolvers.BreakerOpen {
		t.Fatalf("two timeouts since the last success: %s, want open", got)
	}
}
