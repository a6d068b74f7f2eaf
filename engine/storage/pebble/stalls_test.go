package pebble

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestStallsAreCountedAndLogged: Pebble's write stall and slow disk
// events reach the counters Metrics exports and the log.
func TestStallsAreCountedAndLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &stalls{log: slog.New(slog.NewTextHandler(&logs, nil))}
	l := s.listener()
	if n, d := s.total(); n != 0 || d != 0 {
		t.Fatalf("before any event: %d stalls, %v", n, d)
	}
	l.WriteStallBegin(cpebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	if n, d := s.total(); n != 1 || d < 0 {
		t.Fatalf("during a stall: %d stalls, %v", n, d)
	}
	l.WriteStallEnd()
	n, first := s.total()
	if n != 1 {
		t.Fatalf("after a stall: %d stalls", n)
	}
	if _, again := s.total(); again != first {
		t.Errorf("an ended stall's time still grows: %v then %v", first, again)
	}
	l.WriteStallEnd() // an end without a beginning changes nothing
	if n, d := s.total(); n != 1 || d != first {
		t.Errorf("after an unmatched end: %d stalls, %v; want 1, %v", n, d, first)
	}
	l.DiskSlow(cpebble.DiskSlowInfo{Path: "000001.log", OpType: vfs.OpTypeSync, Duration: 3 * time.Second})
	if got := s.slowDisk.Load(); got != 1 {
		t.Errorf("slow disk operations %d, want 1", got)
	}
	for _, want := range []string{"write stall", "memtable count limit reached", "write stall over", "slow disk operation", "000001.log"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestMetricsCarryStalls: the engine's Metrics report its stall counters.
func TestMetricsCarryStalls(t *testing.T) {
	t.Parallel()
	e, err := Open("db", Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.stalls.listener().WriteStallBegin(cpebble.WriteStallBeginInfo{Reason: "L0 file count limit exceeded"})
	e.stalls.listener().DiskSlow(cpebble.DiskSlowInfo{})
	m, err := e.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.WriteStalls != 1 || m.SlowDiskOps != 1 {
		t.Errorf("metrics: %d write stalls, %d slow disk operations; want 1 and 1", m.WriteStalls, m.SlowDiskOps)
	}
}
