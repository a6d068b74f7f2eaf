package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// Config is one run. Exactly one of Duration and Operations bounds it,
// unless Load is set (then Records does).
type Config struct {
	// Stores has one Store per client; len(Stores) is the client count.
	Stores   []Store
	Workload ycsb.Workload
	// Distribution overrides the workload's request distribution.
	Distribution string
	// Records is the number of records loaded (keys 0 … Records-1).
	Records   int64
	ValueSize int
	// Load inserts the Records records instead of running the workload.
	Load       bool
	Duration   time.Duration
	Operations int64
	// Rate, when positive, runs an open loop at this many operations per
	// second across all clients; latency counts from each operation's slot.
	Rate float64
	// Seed seeds the clients' generators (client i uses Seed+i).
	Seed uint64
	// Progress receives a line every ProgressEvery (default 1s); nil for
	// none.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Result is the raw outcome of a run; [Result.Report] summarises it.
type Result struct {
	Elapsed time.Duration
	Hists   map[ycsb.Op]*histogram
	Errors  map[string]int64
	Clients int
	Rate    float64
}

type shared struct {
	cfg      Config
	chooser  func() (ycsb.KeyChooser, error)
	start    time.Time
	deadline time.Time
	claimed  atomic.Int64 // operations started (or, loading, records claimed)
	inserted atomic.Int64 // records inserted during the run (workload D)
}

// claim returns the index of the next operation, or false when the run is
// over.
func (s *shared) claim(now time.Time) (int64, bool) {
	if !s.deadline.IsZero() && !now.Before(s.deadline) {
		return 0, false
	}
	i := s.claimed.Add(1) - 1
	switch {
	case s.cfg.Load:
		return i, i < s.cfg.Records
	case s.cfg.Operations > 0:
		return i, i < s.cfg.Operations
	}
	return i, true
}

// Run runs the load and returns its result. Errors of single operations
// are counted, not returned; Run fails only on a bad Config.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dist := cfg.Distribution
	if dist == "" {
		dist = cfg.Workload.Distribution
	}
	s := &shared{cfg: cfg, chooser: func() (ycsb.KeyChooser, error) { return ycsb.NewChooser(dist, cfg.Records) }}
	if _, err := s.chooser(); err != nil {
		return nil, err
	}
	s.start = time.Now()
	if !cfg.Load && cfg.Duration > 0 {
		s.deadline = s.start.Add(cfg.Duration)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := make([]*worker, len(cfg.Stores))
	var wg sync.WaitGroup
	for i, st := range cfg.Stores {
		ch, _ := s.chooser()
		workers[i] = newWorker(s, st, ch, cfg.Seed+uint64(i))
		wg.Go(func() { workers[i].loop(runCtx) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	s.progress(ctx, done, workers)
	<-done
	res := &Result{Elapsed: time.Since(s.start), Hists: map[ycsb.Op]*histogram{}, Errors: map[string]int64{}, Clients: len(workers), Rate: cfg.Rate}
	for _, w := range workers {
		for op, h := range w.total {
			if res.Hists[op] == nil {
				res.Hists[op] = newHistogram()
			}
			res.Hists[op].merge(h)
		}
		for code, n := range w.errors {
			res.Errors[code] += n
		}
	}
	return res, nil
}

func (c Config) validate() error {
	switch {
	case len(c.Stores) == 0:
		return errors.New("bench: no clients")
	case c.Records <= 0:
		return fmt.Errorf("bench: --records is %d; it must be positive", c.Records)
	case c.ValueSize < 0:
		return fmt.Errorf("bench: --value-size is %d; it must not be negative", c.ValueSize)
	case c.Rate < 0:
		return fmt.Errorf("bench: --rate is %g; it must not be negative", c.Rate)
	case !c.Load && c.Duration <= 0 && c.Operations <= 0:
		return errors.New("bench: give --duration or --operations")
	case !c.Load && c.Duration > 0 && c.Operations > 0:
		return errors.New("bench: give --duration or --operations, not both")
	}
	return nil
}

// progress prints a line every ProgressEvery until done (or ctx ends).
func (s *shared) progress(ctx context.Context, done <-chan struct{}, workers []*worker) {
	every := s.cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			h := newHistogram()
			var errs int64
			for _, w := range workers {
				e := w.takeInterval(h)
				errs += e
			}
			if s.cfg.Progress != nil {
				secs := now.Sub(last).Seconds()
				fmt.Fprintf(s.cfg.Progress, "%6.1fs  %8.0f ops/s  p99 %8s  errors %d\n",
					now.Sub(s.start).Seconds(), float64(h.count())/secs, h.quantile(99), errs)
			}
			last = now
		}
	}
}
