package peer

import (
	"sync"
	"testing"
	"testing/synctest"
)

// TestStreamWorkersServeFramesOnOneGoroutineInTurn: frames that arrive one
// after another are served by one worker, whose stack stays grown; frames
// that overlap each get a worker; after a burst at most maxIdleWorkers
// stay, and they end with the stream.
func TestStreamWorkersServeFramesOnOneGoroutineInTurn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var served []uint64
		release := make(chan struct{})
		block := false
		w := &workers{work: make(chan frame)}
		w.serve = func(f frame) {
			mu.Lock()
			served = append(served, f.id)
			b := block
			mu.Unlock()
			if b {
				<-release
			}
		}
		for id := range uint64(10) {
			w.hand(frame{id: id})
			synctest.Wait() // served, and the worker idle again
		}
		if n := w.started.Load(); n != 1 {
			t.Fatalf("%d workers started for 10 frames in turn, want 1", n)
		}
		if n := w.idle.Load(); n != 1 {
			t.Fatalf("%d idle workers, want 1", n)
		}

		mu.Lock()
		block = true
		mu.Unlock()
		for id := range uint64(20) {
			w.hand(frame{id: 100 + id})
		}
		synctest.Wait() // all 20 being served at once
		if n := w.started.Load(); n != 20 {
			t.Fatalf("%d workers started in all, want 20: the idle one and 19 more", n)
		}
		close(release)
		synctest.Wait()
		if n := w.idle.Load(); n != maxIdleWorkers {
			t.Fatalf("%d idle workers after the burst, want %d", n, maxIdleWorkers)
		}
		mu.Lock()
		if len(served) != 30 {
			t.Errorf("%d frames served, want 30", len(served))
		}
		mu.Unlock()
		close(w.work)
		synctest.Wait()
		if n := w.idle.Load(); n != 0 {
			t.Errorf("%d workers still idle after the stream ended", n)
		}
	})
}
