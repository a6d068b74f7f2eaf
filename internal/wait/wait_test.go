package wait_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		err := wait.Within(t.Context(), time.Minute, func() bool { return calls.Add(1) == 5 })
		if err != nil || calls.Load() != 5 {
			t.Fatalf("err %v after %d checks", err, calls.Load())
		}
	})
}

func TestWithinGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := wait.Within(t.Context(), time.Second, func() bool { return false })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("err %v after %v, want a deadline error after 1s", err, time.Since(start))
		}
	})
}
