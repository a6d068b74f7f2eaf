package pebble_test

import (
	"errors"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
	"github.com/concord-kv/concord/engine/storage/storagetest"
	"github.com/concord-kv/concord/internal/wait"
)

// TestConformanceOnErrorFS runs the contract on errorfs with no fault, so
// that the fault tests below run on a filesystem the engine fully works on.
func TestConformanceOnErrorFS(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, func(t *testing.T) storage.Engine {
		return pebbletest.NewDisk().Open(t)
	})
}

// TestDiskFaults: a synced write whose WAL write or fsync fails is never
// acknowledged, and the engine fails from then on (Pebble calls its
// logger's Fatalf, which the engine turns into storage.ErrFailed).
func TestDiskFaults(t *testing.T) {
	t.Parallel()
	storagetest.RunDiskFaults(t, func(t *testing.T) storagetest.Disk {
		return pebbletest.NewDisk()
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
	d := pebbletest.NewDisk()
	e := d.Open(t)
	d.Inject(storagetest.FailWrite)
	var b storage.Batch
	value := make([]byte, 33<<10) // a WAL block is 32 KiB
	var err error
	// Six writes of 33 KiB stay within the first memtable. The first makes
	// the log writer fail; each later one may still be acknowledged until
	// the writer has recorded its error, then one must fail.
	for i := 0; err == nil; i++ {
		if i == 6 {
			t.Fatal("6 unsynced writes on a failed log were all acknowledged")
		}
		b.Reset()
		b.Set(storagetest.Key(i), value)
		err = e.Apply(&b, storage.WriteOptions{})
		if err == nil && wait.Within(t.Context(), 10*time.Second, func() bool { return d.Injected() > 0 }) != nil {
			t.Fatal("the log writer never wrote the full block: no fault was injected")
		}
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
