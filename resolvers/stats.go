package resolvers

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a pool's counters, all monotonic except Idle and
// Breaker. The server exports them per namespace.
type Stats struct {
	// Calls counts resolve calls made into an instance (fresh or pooled);
	// a cold start that failed is counted only in Failures.
	Calls uint64
	// OK, Deletes and Defers count successful calls by status.
	OK, Deletes, Defers uint64
	// Failures counts failed calls by kind; every kind is present.
	Failures map[ErrorKind]uint64
	// ColdStarts counts instantiations (each followed by init if exported).
	ColdStarts uint64
	// BreakerRejections counts calls refused with ErrBreakerOpen.
	BreakerRejections uint64
	// Idle is the number of instances waiting in the pool.
	Idle int
	// Breaker is the breaker's state when the snapshot was taken.
	Breaker BreakerState
	// CPU is the time calls ran in the guest. A call runs on one thread
	// from start to end, so this is the CPU the calls used (counted
	// generously on a machine so loaded that the thread waits for a core).
	CPU time.Duration
}

// counters are the live, lock-free counters behind Stats.
type counters struct {
	calls, ok, deletes, defers atomic.Uint64
	coldStarts, rejections     atomic.Uint64
	failures                   [kindCount]atomic.Uint64
	cpu                        atomic.Int64 // nanoseconds
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Calls:             c.calls.Load(),
		OK:                c.ok.Load(),
		Deletes:           c.deletes.Load(),
		Defers:            c.defers.Load(),
		ColdStarts:        c.coldStarts.Load(),
		BreakerRejections: c.rejections.Load(),
		CPU:               time.Duration(c.cpu.Load()),
		Failures:          make(map[ErrorKind]uint64, kindCount-1),
	}
	for _, k := range ErrorKinds() {
		s.Failures[k] = c.failures[k].Load()
	}
	return s
}
