package aae

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the time between two rounds of a [Scheduler] when
// [SchedulerConfig.Interval] is 0.
const DefaultInterval = time.Second

// PartitionPeers is one partition this node holds, with the replicas to
// compare.
type PartitionPeers struct {
	Partition int
	// Local is this node's replica of the partition.
	Local Replica
	// Peers are the other replicas to exchange with, one after the other.
	Peers []Replica
}

// SchedulerConfig configures a [Scheduler].
type SchedulerConfig struct {
	// Interval is the time between two rounds; each round exchanges one
	// partition with each of its peers. Default DefaultInterval (1s).
	Interval time.Duration
	// Timeout bounds one exchange with one peer. Default 0: no bound
	// beyond the scheduler's context.
	Timeout time.Duration
	// Partitions lists the partitions to keep in sync, called once per
	// round; the scheduler walks them round-robin by partition number, so
	// the list may change between calls. Required.
	Partitions func() []PartitionPeers
	// Pressure, if not nil, is called before each round; when it reports
	// that foreground latency is high the round is skipped. Default nil:
	// never skip.
	Pressure func() bool
	// Exchange bounds each exchange (StartSegment is managed by the
	// scheduler). Default: the zero ExchangeOptions.
	Exchange ExchangeOptions
	// Logger receives one record per failed exchange. Default: discard.
	Logger *slog.Logger
}

// Validate reports whether c is usable; zero values take their defaults.
func (c SchedulerConfig) Validate() error {
	if c.Partitions == nil {
		return fmt.Errorf("%w: Partitions is required", ErrBadConfig)
	}
	if c.Interval < 0 {
		return fmt.Errorf("%w: Interval %v is negative", ErrBadConfig, c.Interval)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: Timeout %v is negative", ErrBadConfig, c.Timeout)
	}
	return nil
}

// Metrics are the counters of a [Scheduler] since it was made.
type Metrics struct {
	// Rounds counts the ticks of the scheduler, Skipped those skipped under
	// pressure.
	Rounds, Skipped uint64
	// Exchanges counts the exchanges run, Errors those that failed.
	Exchanges, Errors uint64
	// SegmentsDiffering sums Stats.SegmentsDiffering over the exchanges.
	SegmentsDiffering uint64
	// KeysRepaired sums Stats.KeysRepairedA and KeysRepairedB.
	KeysRepaired uint64
}

// Scheduler runs anti-entropy in the background: every Interval it picks the
// next partition round-robin and runs [Exchange] between the local replica
// and each peer. It is safe for concurrent use.
type Scheduler struct {
	cfg SchedulerConfig
	log *slog.Logger

	mu       sync.Mutex
	metrics  Metrics
	last     int         // partition of the previous round; -1 before the first
	cursor   map[int]int // next StartSegment per partition
	lastWarn time.Time   // when a failed exchange was last logged at warn
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewScheduler returns a stopped Scheduler, or the error of cfg.Validate.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, log: log, last: -1, cursor: make(map[int]int)}, nil
}

// Start starts the background loop, which runs until ctx ends or Close is
// called. Calls after the first do nothing.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.run(ctx, s.done)
}

// Close stops the background loop and waits for it to return, cancelling a
// running exchange. It may be called more than once, and before Start.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	if done == nil {
		s.done = make(chan struct{}) // a later Start does nothing
		close(s.done)
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// Metrics returns a copy of the counters.
func (s *Scheduler) Metrics() Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metrics
}

func (s *Scheduler) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.round(ctx)
		}
	}
}

// round exchanges the next partition with each of its peers.
func (s *Scheduler) round(ctx context.Context) {
	if s.cfg.Pressure != nil && s.cfg.Pressure() {
		s.count(func(m *Metrics) { m.Rounds++; m.Skipped++ })
		return
	}
	s.count(func(m *Metrics) { m.Rounds++ })
	pp, ok := s.next(s.cfg.Partitions())
	if !ok {
		return
	}
	for _, peer := range pp.Peers {
		if ctx.Err() != nil {
			return
		}
		s.exchange(ctx, pp.Partition, pp.Local, peer)
	}
}

// next picks the partition with the smallest number above the previous
// round's, wrapping around.
func (s *Scheduler) next(list []PartitionPeers) (PartitionPeers, bool) {
	if len(list) == 0 {
		return PartitionPeers{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	best, first := -1, -1
	for i, pp := range list {
		if first < 0 || pp.Partition < list[first].Partition {
			first = i
		}
		if pp.Partition > s.last && (best < 0 || pp.Partition < list[best].Partition) {
			best = i
		}
	}
	if best < 0 {
		best = first
	}
	s.last = list[best].Partition
	return list[best], true
}

// exchange runs one exchange and records it. The start segment is kept per
// partition, shared by its peers, so that over the rounds every differing
// segment gets its turn.
func (s *Scheduler) exchange(ctx context.Context, partition int, local, peer Replica) {
	opts := s.cfg.Exchange
	s.mu.Lock()
	opts.StartSegment = s.cursor[partition]
	s.mu.Unlock()
	ectx := ctx
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	st, err := Exchange(ectx, partition, local, peer, opts)
	failed := err != nil && ctx.Err() == nil // not a shutdown
	s.mu.Lock()
	s.metrics.Exchanges++
	s.metrics.SegmentsDiffering += uint64(st.SegmentsDiffering)
	s.metrics.KeysRepaired += uint64(st.KeysRepairedA + st.KeysRepairedB)
	if failed {
		s.metrics.Errors++
	}
	if st.SegmentsRepaired > 0 {
		s.cursor[partition] = st.NextSegment
	}
	s.mu.Unlock()
	if failed {
		// A peer that just went down fails every exchange until gossip
		// declares it dead: warn once a minute at most, the rest at debug.
		s.mu.Lock()
		warn := time.Since(s.lastWarn) >= time.Minute
		if warn {
			s.lastWarn = time.Now()
		}
		s.mu.Unlock()
		level := slog.LevelDebug
		if warn {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "aae: exchange failed", "partition", partition, "err", err, "errors_total", s.Metrics().Errors)
	}
}

func (s *Scheduler) count(f func(*Metrics)) {
	s.mu.Lock()
	f(&s.metrics)
	s.mu.Unlock()
}
