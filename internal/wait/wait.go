// Package wait polls a condition until it holds: for a dev cluster coming
// up, and for tests that wait on real servers (where testing/synctest
// cannot stand in for real sockets and real disks).
package wait

import (
	"context"
	"time"
)

// Interval is how often Until checks the condition.
const Interval = 10 * time.Millisecond

// Until returns nil once cond holds, or ctx's error if ctx ends first.
func Until(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Within is Until with a time limit.
func Within(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return Until(ctx, cond)
}
