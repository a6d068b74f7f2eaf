package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Defaults of the zero fields of [Options].
const (
	DefaultWriteTimeout  = 5 * time.Second
	DefaultReadTimeout   = 5 * time.Second
	DefaultRepairTimeout = 10 * time.Second
	// DefaultReadHedgeDelay is the longest a read waits for the R
	// replicas it asked before asking the rest.
	DefaultReadHedgeDelay = 20 * time.Millisecond
	// DefaultReadHedgeFloor is the least a read waits for them.
	DefaultReadHedgeFloor = 2 * time.Millisecond
	// DefaultFullReadChance is the share of reads that ask all N
	// replicas at once.
	DefaultFullReadChance = 0.1
)

// Options tune a Coordinator. Zero values take the defaults.
type Options struct {
	// WriteTimeout bounds a write when the client set no deadline. Default
	// [DefaultWriteTimeout].
	WriteTimeout time.Duration
	// ReadTimeout bounds a read when the client set no deadline. Default
	// [DefaultReadTimeout].
	ReadTimeout time.Duration
	// RepairTimeout bounds the background work after an answer: late
	// replies, read repair, sends to replicas that had not answered.
	// Default [DefaultRepairTimeout].
	RepairTimeout time.Duration
	// ReadHedgeDelay is the longest a read that asked R of the N replicas
	// waits for them before asking the others too. It waits less when the
	// peers it asked usually answer fast: until the latest of them is late
	// by its own record of reply times (as TCP's retransmission timeout:
	// the average plus four mean deviations), but at least
	// ReadHedgeFloor. Default [DefaultReadHedgeDelay].
	ReadHedgeDelay time.Duration
	// ReadHedgeFloor is the least a read waits for the replicas it asked
	// before asking the others; at ReadHedgeDelay or above, every read
	// waits ReadHedgeDelay. Default [DefaultReadHedgeFloor].
	ReadHedgeFloor time.Duration
	// FullReadChance is the share of reads, 0 to 1, that ask all N
	// replicas at once, as the Dynamo paper's reads do: more read repair,
	// at (N-R)/R more replica reads. Zero takes [DefaultFullReadChance];
	// negative: none does.
	FullReadChance float64
	// Logger receives the coordinator's logs. Default slog.Default().
	Logger *slog.Logger
	// ReadRepaired, if set, is told of each stale replica a read repair
	// sends a key to, with the key's storage namespace (it counts the
	// namespace's repairs; Stats.ReadRepairs counts them all).
	ReadRepaired func(ns string)
}

// Validate reports every problem with the options: a negative timeout.
func (o Options) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"WriteTimeout", o.WriteTimeout},
		{"ReadTimeout", o.ReadTimeout},
		{"RepairTimeout", o.RepairTimeout},
		{"ReadHedgeDelay", o.ReadHedgeDelay},
		{"ReadHedgeFloor", o.ReadHedgeFloor},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("coord: %s is %v; it must not be negative (zero means the default)", d.name, d.v))
		}
	}
	if o.FullReadChance > 1 {
		errs = append(errs, fmt.Errorf("coord: FullReadChance is %v; it must be at most 1", o.FullReadChance))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.RepairTimeout == 0 {
		o.RepairTimeout = DefaultRepairTimeout
	}
	if o.ReadHedgeDelay == 0 {
		o.ReadHedgeDelay = DefaultReadHedgeDelay
	}
	if o.ReadHedgeFloor == 0 {
		o.ReadHedgeFloor = DefaultReadHedgeFloor
	}
	if o.FullReadChance == 0 {
		o.FullReadChance = DefaultFullReadChance
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// readAll draws whether a read asks all N replicas at once.
func (o Options) readAll() bool { return o.FullReadChance > 0 && rand.Float64() < o.FullReadChance }
