package pebble

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
)

// stalls counts the moments Pebble held writes back (a write stall: too
// many memtables waiting to flush or too many level-0 files) and the disk
// operations slower than Pebble's threshold, and logs each: both are
// where a foreground write's latency goes when it jumps by hundreds of
// milliseconds, and neither shows in any other figure.
type stalls struct {
	log *slog.Logger

	count    atomic.Int64 // write stalls begun
	nanos    atomic.Int64 // time spent in ended stalls
	slowDisk atomic.Int64 // disk operations past the slowness threshold

	mu    sync.Mutex
	since time.Time // start of the stall in progress; zero if none
}

func (s *stalls) listener() *cpebble.EventListener {
	return &cpebble.EventListener{
		WriteStallBegin: func(info cpebble.WriteStallBeginInfo) {
			s.count.Add(1)
			s.mu.Lock()
			s.since = time.Now()
			s.mu.Unlock()
			s.log.Warn("storage: write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			s.mu.Lock()
			since := s.since
			s.since = time.Time{}
			s.mu.Unlock()
			if since.IsZero() {
				return
			}
			d := time.Since(since)
			s.nanos.Add(int64(d))
			s.log.Warn("storage: write stall over", "took", d.Round(time.Millisecond))
		},
		DiskSlow: func(info cpebble.DiskSlowInfo) {
			s.slowDisk.Add(1)
			s.log.Warn("storage: slow disk operation", "op", info.OpType.String(), "path", info.Path, "took", info.Duration.Round(time.Millisecond))
		},
	}
}

// total returns the stalls begun and the time spent in them, the one in
// progress included.
func (s *stalls) total() (int64, time.Duration) {
	d := time.Duration(s.nanos.Load())
	s.mu.Lock()
	if !s.since.IsZero() {
		d += time.Since(s.since)
	}
	s.mu.Unlock()
	return s.count.Load(), d
}
