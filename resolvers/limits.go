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

// Limits bound what one namespace's resolver may consume. The zero value of
// each field means "the default".
type Limits struct {
	// Deadline bounds one resolve call. Default [DefaultDeadline].
	Deadline time.Duration
	// InitDeadline bounds a cold start: instantiation, _initialize and init.
	// Default [DefaultInitDeadline].
	InitDeadline time.Duration
	// MemoryPages caps the guest's linear memory, in 64 KiB pages; memory.grow
	// beyond it fails (returns -1). Default [DefaultMemoryPages] (16 MiB).
	MemoryPages uint32
	// MaxOutputBytes caps the merged value a guest may write. Normally the
	// namespace's max value size. Default [DefaultMaxOutputBytes].
	MaxOutputBytes int
	// MaxInstances caps live instances of the pool, busy or idle; callers
	// beyond it wait (respecting their context). Default GOMAXPROCS.
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
// than [MaxMemoryPages] pages.
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
