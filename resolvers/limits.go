package resolvers

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Default limits, applied by [Limits.WithDefaults] to zero fields.
const (
	DefaultDeadline       = 100 * time.Millisecond
	DefaultInitDeadline   = time.Second
	DefaultMemoryPages    = 256 // 16 MiB
	DefaultMaxOutputBytes = 1 << 20
	// MaxMemoryPages is WebAssembly's limit for a 32-bit memory (4 GiB).
	MaxMemoryPages = 65536
)

// Default caps of a [Runtime] ([Options].MaxLimits), applied to its zero
// fields: what the cluster admin allows a namespace at most.
const (
	DefaultCapMemoryPages  = 1024 // 64 MiB per instance
	DefaultCapDeadline     = 10 * time.Second
	DefaultCapInitDeadline = 10 * time.Second
)

// ErrLimitExceeded is wrapped by the error of [Runtime.CheckLimits] for
// limits above the runtime's caps.
var ErrLimitExceeded = errors.New("resolvers: limit above the cluster's cap")

// Limits bound what one namespace's resolver may consume. The zero value of
// each field means "the default".
type Limits struct {
	// Deadline bounds one resolve call. Default [DefaultDeadline].
	Deadline time.Duration
	// InitDeadline bounds a cold start: instantiation, the start function,
	// _initialize and init. Default [DefaultInitDeadline].
	InitDeadline time.Duration
	// MemoryPages caps the guest's linear memory, in 64 KiB pages; memory.grow
	// beyond it fails (returns -1). Default [DefaultMemoryPages] (16 MiB).
	MemoryPages uint32
	// MaxOutputBytes caps the merged value a guest may write. Normally the
	// namespace's max value size. Default [DefaultMaxOutputBytes].
	MaxOutputBytes int
	// MaxInstances caps the pool's calls in progress (and its idle
	// instances); callers beyond it wait, until their deadline. Default
	// GOMAXPROCS.
	MaxInstances int
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.Deadline == 0 {
		l.Deadline = DefaultDeadline
	}
	if l.InitDeadline == 0 {
		l.InitDeadline = DefaultInitDeadline
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MaxInstances == 0 {
		l.MaxInstances = runtime.GOMAXPROCS(0)
	}
	return l
}

// Validate reports limits that cannot be applied: negative values and more
// than [MaxMemoryPages] pages. It does not know a runtime's caps; see
// [Runtime.CheckLimits].
func (l Limits) Validate() error {
	var errs []error
	if l.Deadline < 0 {
		errs = append(errs, fmt.Errorf("resolvers: negative deadline %v", l.Deadline))
	}
	if l.InitDeadline < 0 {
		errs = append(errs, fmt.Errorf("resolvers: negative init deadline %v", l.InitDeadline))
	}
	if l.MemoryPages > MaxMemoryPages {
		errs = append(errs, fmt.Errorf("resolvers: memory pages %d > %d", l.MemoryPages, MaxMemoryPages))
	}
	if l.MaxOutputBytes < 0 {
		errs = append(errs, fmt.Errorf("resolvers: negative max output bytes %d", l.MaxOutputBytes))
	}
	if l.MaxInstances < 0 {
		errs = append(errs, fmt.Errorf("resolvers: negative max instances %d", l.MaxInstances))
	}
	return errors.Join(errs...)
}

// sanitize is what NewPool applies: defaults, then clamping of values
// Validate would refuse, so that a pool always has usable limits.
func (l Limits) sanitize() Limits {
	d := Limits{}.WithDefaults()
	if l.Deadline < 0 {
		l.Deadline = d.Deadline
	}
	if l.InitDeadline < 0 {
		l.InitDeadline = d.InitDeadline
	}
	if l.MaxOutputBytes < 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	if l.MaxInstances < 0 {
		l.MaxInstances = d.MaxInstances
	}
	l.MemoryPages = min(l.MemoryPages, MaxMemoryPages)
	return l.WithDefaults()
}

// capsOf returns the runtime's caps: the zero fields of max take the
// DefaultCap values (MaxOutputBytes and MaxInstances are not capped unless
// set).
func capsOf(max Limits) Limits {
	if max.MemoryPages == 0 {
		max.MemoryPages = DefaultCapMemoryPages
	}
	max.MemoryPages = min(max.MemoryPages, MaxMemoryPages)
	if max.Deadline <= 0 {
		max.Deadline = DefaultCapDeadline
	}
	if max.InitDeadline <= 0 {
		max.InitDeadline = DefaultCapInitDeadline
	}
	return max
}

// exceeding lists the fields of l (defaults applied) above caps.
func (l Limits) exceeding(caps Limits) []string {
	l = l.WithDefaults()
	var over []string
	if l.MemoryPages > caps.MemoryPages {
		over = append(over, fmt.Sprintf("memory pages %d > %d", l.MemoryPages, caps.MemoryPages))
	}
	if l.Deadline > caps.Deadline {
		over = append(over, fmt.Sprintf("deadline %v > %v", l.Deadline, caps.Deadline))
	}
	if l.InitDeadline > caps.InitDeadline {
		over = append(over, fmt.Sprintf("init deadline %v > %v", l.InitDeadline, caps.InitDeadline))
	}
	if caps.MaxOutputBytes > 0 && l.MaxOutputBytes > caps.MaxOutputBytes {
		over = append(over, fmt.Sprintf("max output bytes %d > %d", l.MaxOutputBytes, caps.MaxOutputBytes))
	}
	if caps.MaxInstances > 0 && l.MaxInstances > caps.MaxInstances {
		over = append(over, fmt.Sprintf("max instances %d > %d", l.MaxInstances, caps.MaxInstances))
	}
	return over
}

// clamp lowers the fields of l (defaults applied) to caps.
func (l Limits) clamp(caps Limits) Limits {
	l.MemoryPages = min(l.MemoryPages, caps.MemoryPages)
	l.Deadline = min(l.Deadline, caps.Deadline)
	l.InitDeadline = min(l.InitDeadline, caps.InitDeadline)
	if caps.MaxOutputBytes > 0 {
		l.MaxOutputBytes = min(l.MaxOutputBytes, caps.MaxOutputBytes)
	}
	if caps.MaxInstances > 0 {
		l.MaxInstances = min(l.MaxInstances, caps.MaxInstances)
	}
	return l
}
