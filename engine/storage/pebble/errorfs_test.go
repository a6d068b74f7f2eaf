package pebble_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

// errorDisk is a [storagetest.Disk]: Pebble's error-injecting filesystem
// (errorfs) over its crashable in-memory one.
type errorDisk struct {
	mem     *vfs.MemFS
	fault   atomic.Pointer[storagetest.Fault] // nil: no fault
	counter *errorfs.Counter
	fs      vfs.FS
}

func newErrorDisk(mem *vfs.MemFS) *errorDisk {
	d := &errorDisk{mem: mem}
	d.counter = &errorfs.Counter{Injector: errorfs.ErrInjected.If(walOps{d})}
	d.fs = errorfs.Wrap(mem, d.counter)
	return d
}

func (d *errorDisk) Open(t *testing.T) storage.Engine {
	t.Helper()
	e, err := pebble.Open("db", pebble.Options{FS: d.fs, Logger: quiet, CacheSize: 1 << 20, MemTableSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (d *errorDisk) Inject(f storagetest.Fault) { d.fault.Store(&f) }

func (d *errorDisk) Injected() int { return int(d.counter.Load()) }

func (d *errorDisk) Crash() storagetest.Disk {
	return newErrorDisk(d.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}))
}

// walOps is the errorfs predicate of the disk's fault: the fsyncs or the
// writes of Pebble's write-ahead log files (*.log).
type walOps struct{ d *errorDisk }

func (p walOps) String() string { return "wal-ops" }

func (p walOps) Evaluate(op errorfs.Op) bool {
	f := p.d.fault.Load()
	if f == nil || !strings.HasSuffix(op.Path, ".log") {
		return false
	}
	switch *f {
	case storagetest.FailSync:
		return slices.Contains([]errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}, op.Kind)
	case storagetest.FailWrite:
		return slices.Contains([]errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt}, op.Kind)
	}
	return false
}

// TestConformanceOnErrorFS runs the contract on errorfs with no fault, so
// that the fault tests below run on a filesystem the engine fully works on.
func TestConformanceOnErrorFS(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, func(t *testing.T) storage.Engine {
		return newErrorDisk(vfs.NewCrashableMem()).Open(t)
	})
}

// TestDiskFaults: a synced write whose WAL write or fsync fails is never
// acknowledged, and the engine fails from then on (Pebble calls its
// logger's Fatalf, which the engine turns into storage.ErrFailed).
func TestDiskFaults(t *testing.T) {
	t.Parallel()
	storagetest.RunDiskFaults(t, func(t *testing.T) storagetest.Disk {
		return newErrorDisk(vfs.NewCrashableMem())
	})
}
