package loop_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/node/loop"
)

// TestLoop: a started Loop runs its round once every interval, not
// before the first; Close stops it and waits for the round in progress;
// Close without Start returns at once.
func TestLoop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		if err := loop.New(time.Second, func(context.Context) { t.Error("a loop never started ran") }).Close(); err != nil {
			t.Fatal(err)
		}

		var rounds, finished atomic.Int32
		l := loop.New(time.Second, func(ctx context.Context) {
			rounds.Add(1)
			time.Sleep(300 * time.Millisecond) // a round takes a while
			finished.Add(1)
		})
		l.Start(t.Context())
		synctest.Wait()
		if rounds.Load() != 0 {
			t.Fatal("a round ran before the first interval")
		}
		time.Sleep(3*time.Second + 100*time.Millisecond) // three ticks; the third round is in progress
		synctest.Wait()
		if got := rounds.Load(); got != 3 {
			t.Fatalf("%d rounds after three intervals, want 3", got)
		}
		if finished.Load() != 2 {
			t.Fatalf("%d rounds finished, want 2 with the third in progress", finished.Load())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if finished.Load() != 3 {
			t.Error("Close returned before the round in progress finished")
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := rounds.Load(); got != 3 {
			t.Errorf("%d rounds after Close, want still 3", got)
		}
	})
}

// TestLoopStopsWithItsContext: the rounds also end when Start's context
// does, and each round gets a context that ends with Close.
func TestLoopStopsWithItsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var rounds atomic.Int32
		l := loop.New(time.Second, func(context.Context) { rounds.Add(1) })
		l.Start(ctx)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		cancel()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := rounds.Load(); got != 1 {
			t.Errorf("%d rounds, want 1 before the context ended", got)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}

		ended := make(chan struct{})
		l = loop.New(time.Second, func(ctx context.Context) { <-ctx.Done(); close(ended) })
		l.Start(t.Context())
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ended:
		default:
			t.Error("Close returned without ending the round's context")
		}
	})
}
