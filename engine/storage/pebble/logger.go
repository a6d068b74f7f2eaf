package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/concord-kv/concord/engine/storage"
)

// slogLogger adapts a *slog.Logger to Pebble's logger interface.
type slogLogger struct {
	l     *slog.Logger
	fence *fence
}

var _ cpebble.Logger = slogLogger{}

func (s slogLogger) Infof(format string, args ...any) {
	if s.l.Enabled(context.Background(), slog.LevelInfo) {
		s.log(slog.LevelInfo, format, args)
	}
}

func (s slogLogger) Errorf(format string, args ...any) {
	s.log(slog.LevelError, format, args)
}

// Fatalf logs at error level, fails the engine and panics with a [fatal].
// Pebble calls it when it cannot go on: a WAL write or fsync failed under
// a commit ("fatal commit error"), a MANIFEST could not be written, or an
// invariant broke; the code after the call assumes it does not return, so
// it must not. Called under [Engine.Apply], the panic is recovered and the
// write fails with [storage.ErrFailed]. Called on one of Pebble's own
// goroutines (a flush or compaction that cannot write its MANIFEST), it
// ends the process with a stack trace, which is what Pebble's default
// logger would do with os.Exit, minus the unwinding of the caller.
func (s slogLogger) Fatalf(format string, args ...any) {
	msg := s.log(slog.LevelError, format, args)
	err := fmt.Errorf("%w: %s", storage.ErrFailed, msg)
	s.fence.fail(err)
	panic(fatal{err})
}

func (s slogLogger) log(level slog.Level, format string, args []any) string {
	msg := strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")
	s.l.Log(context.Background(), level, msg, slog.String("component", "pebble"))
	return msg
}

// fatal is the panic value of [slogLogger.Fatalf].
type fatal struct{ err error }

func (f fatal) String() string { return "storage/pebble: fatal: " + f.err.Error() }

// fence holds the first unrecoverable failure of a store. Once it is set,
// every operation of the engine returns it instead of calling Pebble.
type fence struct {
	err atomic.Pointer[error]
}

// fail records err unless a failure is recorded already.
func (f *fence) fail(err error) {
	if !errors.Is(err, storage.ErrFailed) {
		err = fmt.Errorf("%w: %w", storage.ErrFailed, err)
	}
	f.err.CompareAndSwap(nil, &err)
}

// failure returns the recorded failure, or nil.
func (f *fence) failure() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}
