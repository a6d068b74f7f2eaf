package storagetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concord-kv/concord/engine/storage"
)

// Fault is a kind of disk failure a [Disk] injects.
type Fault int

const (
	// FailSync makes every fsync of the engine's write-ahead log fail.
	FailSync Fault = iota
	// FailWrite makes every write to the engine's write-ahead log fail.
	FailWrite
)

func (f Fault) String() string {
	switch f {
	case FailSync:
		return "FailSync"
	case FailWrite:
		return "FailWrite"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Disk is a filesystem under an engine that a test can make fail and
// crash. An engine with a write-ahead log implements it over its own
// filesystem abstraction (Pebble: errorfs over a crashable in-memory vfs).
type Disk interface {
	// Open opens the engine's store on the disk, creating it if needed.
	Open(t *testing.T) storage.Engine
	// Inject makes every later operation of kind f fail.
	Inject(f Fault)
	// Injected reports how many operations have failed so far, so that a
	// test knows its fault was hit.
	Injected() int
	// Crash returns the disk as a machine crash at this moment would leave
	// it: only the data synced so far, and no faults.
	Crash() Disk
}

// RunDiskFaults checks what an engine does when its disk fails under a
// synced write: the write is never acknowledged (Apply returns an error
// wrapping [storage.ErrFailed]), the engine then fails every operation
// instead of serving state the disk may not hold, and every write it did
// acknowledge is on the disk after a crash, with no batch half applied.
// newDisk returns a fresh, empty disk. Subtests run in parallel.
func RunDiskFaults(t *testing.T, newDisk func(t *testing.T) Disk) {
	for _, f := range []Fault{FailSync, FailWrite} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			t.Run("NotAcknowledged", func(t *testing.T) {
				t.Parallel()
				testFailedWriteNotAcknowledged(t, newDisk(t), f)
			})
			t.Run("ConcurrentWriters", func(t *testing.T) {
				t.Parallel()
				for seed := range uint64(4) {
					t.Run(fmt.Sprint(seed), func(t *testing.T) {
						t.Parallel()
						testFailureUnderGroupCommit(t, newDisk(t), f, seed)
					})
				}
			})
		})
	}
}

var synced = storage.WriteOptions{Sync: true}

// faultBatch fills b with batch i of writer w: faultKeys keys
// "f/<w>/<i>/<k>", so that a batch half applied shows as a partial set.
func faultBatch(b *storage.Batch, w, i int) {
	b.Reset()
	for k := range faultKeys {
		b.Set(faultKey(w, i, k), fmt.Appendf(nil, "%d/%d", w, i))
	}
}

const faultKeys = 3

func faultKey(w, i, k int) []byte { return fmt.Appendf(nil, "f/%02d/%06d/%d", w, i, k) }

// batchState counts the keys of batch i of writer w that e holds: 0 or
// faultKeys, or the test fails.
func batchState(t *testing.T, e storage.Engine, w, i int) (present bool) {
	t.Helper()
	n := 0
	for k := range faultKeys {
		v, err := e.Get(faultKey(w, i, k))
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			t.Fatalf("Get: %v", err)
		case string(v) != fmt.Sprintf("%d/%d", w, i):
			t.Fatalf("batch %d of writer %d: key %d holds %q", i, w, k, v)
		default:
			n++
		}
	}
	if n != 0 && n != faultKeys {
		t.Fatalf("batch %d of writer %d is half applied: %d of %d keys", i, w, n, faultKeys)
	}
	return n == faultKeys
}

// checkFailed checks that every operation of a failed engine fails with
// ErrFailed.
func checkFailed(t *testing.T, e storage.Engine) {
	t.Helper()
	var b storage.Batch
	b.Set([]byte("after"), []byte("the failure"))
	checks := []struct {
		name string
		err  func() error
	}{
		{"synced Apply", func() error { return e.Apply(&b, synced) }},
		{"unsynced Apply", func() error { return e.Apply(&b, storage.WriteOptions{}) }},
		{"Get", func() error { _, err := e.Get(faultKey(0, 0, 0)); return err }},
		{"NewIter", func() error { _, err := e.NewIter(nil, nil); return err }},
		{"NewSnapshot", func() error { _, err := e.NewSnapshot(); return err }},
	}
	for _, c := range checks {
		if err := c.err(); !errors.Is(err, storage.ErrFailed) {
			t.Errorf("%s after a failed write: %v, want ErrFailed", c.name, err)
		}
	}
}

// closeFailed closes a failed engine, which must report the failure.
func closeFailed(t *testing.T, e storage.Engine) {
	t.Helper()
	if err := e.Close(); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Close of a failed engine: %v, want ErrFailed", err)
	}
}

func testFailedWriteNotAcknowledged(t *testing.T, d Disk, f Fault) {
	e := d.Open(t)
	var b storage.Batch
	const acked = 20
	for i := range acked {
		faultBatch(&b, 0, i)
		if err := e.Apply(&b, synced); err != nil {
			t.Fatalf("Apply before the fault: %v", err)
		}
	}
	// A snapshot and an iterator opened before the failure fail with it.
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	it, err := e.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	d.Inject(f)
	faultBatch(&b, 0, acked)
	err = e.Apply(&b, synced)
	if err == nil {
		t.Fatalf("a synced write was acknowledged although its log %s failed", f)
	}
	if !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Apply on a failing disk: %v, want ErrFailed", err)
	}
	if d.Injected() == 0 {
		t.Fatal("the disk injected no fault: the test checked nothing")
	}
	checkFailed(t, e)
	if _, err := snap.Get(faultKey(0, 0, 0)); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Snapshot.Get after a failed write: %v, want ErrFailed", err)
	}
	if it.First() || !errors.Is(it.Error(), storage.ErrFailed) {
		t.Errorf("Iterator.First after a failed write: error %v, want ErrFailed", it.Error())
	}
	_ = it.Close()
	_ = snap.Close()

	crashed := d.Crash()
	closeFailed(t, e)
	e = crashed.Open(t)
	defer e.Close()
	for i := range acked {
		if !batchState(t, e, 0, i) {
			t.Errorf("acknowledged batch %d is lost after the crash", i)
		}
	}
	batchState(t, e, 0, acked) // present or not, but not half
}

// testFailureUnderGroupCommit fails the log under concurrent synced writers,
// whose fsyncs the engine may share: every writer of a failed group must be
// told, and every acknowledged batch must survive a crash.
func testFailureUnderGroupCommit(t *testing.T, d Disk, f Fault, seed uint64) {
	const writers, maxBatches = 4, 200
	rng := rand.New(rand.NewPCG(seed, 9))
	e := d.Open(t)
	acked := make([]atomic.Int64, writers)    // batches of writer w whose Apply returned nil
	tried := make([]atomic.Int64, writers)    // batches of writer w that Apply was called for
	failures := make([]atomic.Int64, writers) // failed Applies of writer w
	// The writer whose acknowledgement is the injectAt-th injects the fault,
	// so that most batches come after it.
	injectAt := int64(1 + rng.IntN(writers*maxBatches/4))
	var acks atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var b storage.Batch
			for i := range maxBatches {
				faultBatch(&b, w, i)
				tried[w].Store(int64(i + 1))
				if err := e.Apply(&b, synced); err != nil {
					if !errors.Is(err, storage.ErrFailed) {
						t.Errorf("writer %d: Apply on a failing disk: %v, want ErrFailed", w, err)
					}
					failures[w].Add(1)
					return
				}
				acked[w].Store(int64(i + 1))
				if acks.Add(1) == injectAt {
					d.Inject(f)
				}
			}
		})
	}
	wg.Wait()

	total := int64(0)
	for w := range writers {
		total += failures[w].Load()
	}
	if total == 0 {
		t.Fatal("no write failed after the fault was injected")
	}
	if d.Injected() == 0 {
		t.Fatal("the disk injected no fault: the test checked nothing")
	}
	checkFailed(t, e)
	crashed := d.Crash()
	closeFailed(t, e)

	e = crashed.Open(t)
	defer e.Close()
	for w := range writers {
		for i := range int(tried[w].Load()) {
			if !batchState(t, e, w, i) && int64(i) < acked[w].Load() {
				t.Errorf("writer %d: acknowledged batch %d is lost after the crash", w, i)
			}
		}
	}
}
