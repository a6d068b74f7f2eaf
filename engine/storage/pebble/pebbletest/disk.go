// Package pebbletest gives tests of code that runs on the Pebble engine a
// disk that fails and crashes on demand: Pebble's error-injecting
// filesystem (errorfs) over its crashable in-memory one. [Disk] is the
// [storagetest.Disk] of the Pebble engine, and its [Disk.FS] can go under
// anything that opens a Pebble store, a whole node included.
package pebbletest

import (
	"log/slog"
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

// Dir is the directory [Disk.Open] keeps its store in.
const Dir = "db"

// Disk is a crashable in-memory filesystem that fails the writes or the
// fsyncs of Pebble's write-ahead log once a fault is injected. It is safe
// for concurrent use.
type Disk struct {
	mem     *vfs.MemFS
	fault   atomic.Pointer[storagetest.Fault] // nil: no fault
	counter *errorfs.Counter
	fs      vfs.FS
}

var _ storagetest.Disk = (*Disk)(nil)

// NewDisk returns an empty disk with no fault.
func NewDisk() *Disk { return newDisk(vfs.NewCrashableMem()) }

func newDisk(mem *vfs.MemFS) *Disk {
	d := &Disk{mem: mem}
	d.counter = &errorfs.Counter{Injector: errorfs.ErrInjected.If(walOps{d})}
	d.fs = errorfs.Wrap(mem, d.counter)
	return d
}

// FS is the disk's filesystem, for pebble.Options.FS or node.Config.FS.
func (d *Disk) FS() vfs.FS { return d.fs }

// Open opens a Pebble engine in [Dir] with a small memtable and cache and
// no logs.
func (d *Disk) Open(t *testing.T) storage.Engine {
	t.Helper()
	e, err := pebble.Open(Dir, pebble.Options{
		FS: d.fs, Logger: slog.New(slog.DiscardHandler), CacheSize: 1 << 20, MemTableSize: 256 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Inject makes every later operation of kind f on a WAL file fail with
// errorfs.ErrInjected.
func (d *Disk) Inject(f storagetest.Fault) { d.fault.Store(&f) }

// Injected reports how many operations have failed.
func (d *Disk) Injected() int { return int(d.counter.Load()) }

// Crash implements [storagetest.Disk]: see [Disk.CrashClone].
func (d *Disk) Crash() storagetest.Disk { return d.CrashClone() }

// CrashClone returns a new disk holding what a machine crash at this
// moment would leave: only synced data, and no fault.
func (d *Disk) CrashClone() *Disk {
	return newDisk(d.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}))
}

// walOps is the errorfs predicate of the injected fault: the fsyncs or the
// writes of Pebble's write-ahead log files (*.log).
type walOps struct{ d *Disk }

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
