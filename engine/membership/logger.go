package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newMemberlistLogger adapts memberlist's *log.Logger output to slog.
// memberlist writes one line per call, prefixed with a level such as
// "[DEBUG] memberlist: "; the level picks the slog level and is stripped
// with the "memberlist: " prefix.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(&logWriter{log: l.With("component", "memberlist")}, "", 0)
}

type logWriter struct{ log *slog.Logger }

var logLevels = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG]"), slog.LevelDebug},
	{[]byte("[TRACE]"), slog.LevelDebug},
	{[]byte("[INFO]"), slog.LevelInfo},
	{[]byte("[WARN]"), slog.LevelWarn},
	{[]byte("[ERR]"), slog.LevelError},
	{[]byte("[ERROR]"), slog.LevelError},
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range logLevels {
		if bytes.HasPrefix(line, l.prefix) {
			level = l.level
			line = bytes.TrimSpace(line[len(l.prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	if bytes.Contains(line, []byte("use of closed network connection")) {
		level = slog.LevelDebug // the node is shutting down: not news
	}
	ctx := context.Background()
	if w.log.Enabled(ctx, level) {
		w.log.Log(ctx, level, string(line))
	}
	return len(p), nil
}
