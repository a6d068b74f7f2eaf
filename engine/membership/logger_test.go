package membership_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/concord-kv/concord/engine/membership"
)

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

func TestMemberlistLogsGoToSlog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c := newCluster(t, 2, func(i int, cfg *membership.Config) {
			if i == 1 {
				cfg.Logger = logger
			}
		})
		c.joinAll() // n2 logs memberlist's "Initiating push/pull sync with: ..."
		found := false
		for _, line := range out.lines() {
			var rec struct {
				Level, Msg, Component string
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("bad log line %q: %v", line, err)
			}
			if rec.Component != "memberlist" {
				continue
			}
			if strings.HasPrefix(rec.Msg, "[") || strings.HasPrefix(rec.Msg, "memberlist:") {
				t.Errorf("level prefix not stripped: %q", rec.Msg)
			}
			if strings.HasPrefix(rec.Msg, "Initiating push/pull") {
				found = true
				if rec.Level != "DEBUG" {
					t.Errorf("[DEBUG] line logged at %s", rec.Level)
				}
			}
		}
		if !found {
			t.Errorf("memberlist's push/pull debug line not in the slog output:\n%s", strings.Join(out.lines(), "\n"))
		}
	})
}
