package pebble

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	cpebble "github.com/cockroachdb/pebble/v2"
)

// slogLogger adapts a *slog.Logger to Pebble's logger interface.
type slogLogger struct {
	l *slog.Logger
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

// Fatalf logs at error level and panics. Pebble calls it only on
// unrecoverable corruption; a panic lets the process unwind instead of the
// os.Exit of Pebble's default logger.
func (s slogLogger) Fatalf(format string, args ...any) {
	msg := s.log(slog.LevelError, format, args)
	panic("storage/pebble: fatal: " + msg)
}

func (s slogLogger) log(level slog.Level, format string, args []any) string {
	msg := strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")
	s.l.Log(context.Background(), level, msg, slog.String("component", "pebble"))
	return msg
}
