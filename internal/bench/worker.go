package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// worker is one client: it draws operations and keys, calls its Store and
// records latencies. Its histograms are guarded by mu, which only the
// progress ticker contends for, once a second.
type worker struct {
	s       *shared
	store   Store
	chooser ycsb.KeyChooser
	rng     *ycsb.Rand
	value   []byte

	mu          sync.Mutex
	total       map[ycsb.Op]*histogram
	interval    *histogram
	errors      map[string]int64
	intervalErr int64
}

func newWorker(s *shared, st Store, ch ycsb.KeyChooser, seed uint64) *worker {
	w := &worker{s: s, store: st, chooser: ch, rng: ycsb.NewRand(seed), value: make([]byte, s.cfg.ValueSize),
		total: map[ycsb.Op]*histogram{}, interval: newHistogram(), errors: map[string]int64{}}
	return w
}

func (w *worker) loop(ctx context.Context) {
	cfg := w.s.cfg
	for ctx.Err() == nil {
		i, ok := w.s.claim(time.Now())
		if !ok {
			return
		}
		due := time.Now()
		if cfg.Rate > 0 {
			due = w.s.start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			if !w.s.deadline.IsZero() && !due.Before(w.s.deadline) {
				return
			}
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		op, err := w.do(ctx, i)
		end := time.Now()
		if err != nil && ctx.Err() != nil {
			return // cancelled at the end of the run, not a failure
		}
		w.record(op, end.Sub(due), err)
	}
}

// do runs operation i.
func (w *worker) do(ctx context.Context, i int64) (ycsb.Op, error) {
	cfg := w.s.cfg
	w.fill()
	if cfg.Load {
		return ycsb.Insert, w.store.Insert(ctx, ycsb.Key(i), w.value)
	}
	op := cfg.Workload.Choose(w.rng)
	n := cfg.Records + w.s.inserted.Load()
	switch op {
	case ycsb.Insert:
		// Claim a new record number; the key space visible to readers
		// grows once the insert is acknowledged. Concurrent inserts may
		// finish out of order, so a read can rarely miss a just-claimed
		// key (a not-found read, not an error).
		k := cfg.Records + w.s.inserted.Add(1) - 1
		return op, w.store.Insert(ctx, ycsb.Key(k), w.value)
	case ycsb.Update:
		return op, w.store.Update(ctx, ycsb.Key(w.chooser.Next(w.rng, n)), w.value)
	case ycsb.ReadModifyWrite:
		return op, w.store.ReadModifyWrite(ctx, ycsb.Key(w.chooser.Next(w.rng, n)), w.value)
	}
	return ycsb.Read, w.store.Read(ctx, ycsb.Key(w.chooser.Next(w.rng, n)))
}

// fill gives the value fresh (pseudo-random, incompressible) bytes.
func (w *worker) fill() {
	for i := 0; i < len(w.value); i += 8 {
		x := w.rng.Uint64()
		for j := i; j < min(i+8, len(w.value)); j++ {
			w.value[j] = byte(x)
			x >>= 8
		}
	}
}

func (w *worker) record(op ycsb.Op, d time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errors[errorCode(err)]++
		w.intervalErr++
		return
	}
	h := w.total[op]
	if h == nil {
		h = newHistogram()
		w.total[op] = h
	}
	h.record(d)
	w.interval.record(d)
}

// takeInterval merges the interval's latencies into into, resets them and
// returns the interval's error count.
func (w *worker) takeInterval(into *histogram) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	into.merge(w.interval)
	w.interval.reset()
	e := w.intervalErr
	w.intervalErr = 0
	return e
}

// errorCode names an error by its Connect code ("unavailable"), or
// "deadline_exceeded"/"canceled" for context errors, or "other".
func errorCode(err error) string {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code().String()
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded.String()
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled.String()
	}
	return "other"
}
