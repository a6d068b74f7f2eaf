package pebble_test

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestUnsyncedWritesOnAFailedLog: unsynced writes do not wait for the WAL,
// so Pebble acknowledges them while its log writer fails in the
// background; once a later commit sees the failure, Pebble panics with its
// commit pipeline locked. The engine must turn that into ErrFailed, fail
// from then on, and close without waiting on the locked pipeline.
//
// Each write fills a WAL block, so the next one hands the log writer's
// error to the commit. The test stays within Pebble's first memtable
// (256 KiB): rotating the WAL after it failed makes Pebble v2.1.7 panic in
// rotateWAL and then unlock an unlocked mutex, a fatal error that no
// recover stops and that ends the process.
func TestUnsyncedWritesOnAFailedLog(t *testing.T) {
	t.Parallel()
	d := newErrorDisk(vfs.NewCrashableMem())
	e := d.Open(t)
	d.Inject(storagetest.FailWrite)
	var b storage.Batch
	value := make([]byte, 33<<10) // a WAL block is 32 KiB
	var err error
	for i := 0; err == nil; i++ {
		if i == 5 {
			t.Fatal("5 unsynced writes on a failed log were all acknowledged")
		}
		b.Reset()
		b.Set(storagetest.Key(i), value)
		err = e.Apply(&b, storage.WriteOptions{})
		// Let the log writer's goroutine write the full block and fail.
		for deadline := time.Now().Add(10 * time.Second); err == nil && d.Injected() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond) // the writer records its error after the injection
	}
	if !errors.Is(err, storage.ErrFailed) {
		t.Fatalf("Apply on a failed log: %v, want ErrFailed", err)
	}
	if _, err := e.Get(storagetest.Key(0)); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Get after the failure: %v, want ErrFailed", err)
	}
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("synced Apply after the failure: %v, want ErrFailed", err)
	}
	if err := e.Close(); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Close after the failure: %v, want ErrFailed", err)
	}
}
