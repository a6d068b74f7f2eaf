// Package loop runs a node's background rounds: a [Loop] calls a round
// function every interval on its own goroutine, from Start until Close,
// which waits for the round in progress. Hint delivery, handoff and purge
// are each one Loop.
package loop

import (
	"context"
	"sync"
	"time"
)

// Loop runs one round function periodically. Start and Close may each be
// called once, from any goroutine; Close without Start does nothing.
type Loop struct {
	interval time.Duration
	round    func(context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a loop that runs round every interval once started.
func New(interval time.Duration, round func(context.Context)) *Loop {
	return &Loop{interval: interval, round: round}
}

// Start runs the rounds until ctx ends or Close is called.
func (l *Loop) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	l.mu.Lock()
	l.cancel, l.done = cancel, done
	l.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(l.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l.round(ctx)
			}
		}
	}()
}

// Close stops the rounds and waits for the one in progress.
func (l *Loop) Close() error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
