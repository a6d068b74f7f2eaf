package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the zero fields of [Options].
const (
	DefaultWriteTimeout  = 5 * time.Second
	DefaultReadTimeout   = 5 * time.Second
	DefaultRepairTimeout = 10 * time.Second
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
	// Logger receives the coordinator's logs. Default slog.Default().
	Logger *slog.Logger
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
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("coord: %s is %v; it must not be negative (zero means the default)", d.name, d.v))
		}
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
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
