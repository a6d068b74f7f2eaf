package faultlab_test

import (
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

// eventually fails the test unless cond holds within d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := wait.Within(t.Context(), d, cond); err != nil {
		t.Fatalf("timed out after %v waiting for: %s", d, what)
	}
}

// throttled checks cond at most once per interval (wait polls every 10ms;
// the lab's conditions call every node's API).
func throttled(interval time.Duration, cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) < interval {
			return false
		}
		last = time.Now()
		return cond()
	}
}
