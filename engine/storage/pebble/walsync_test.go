package pebble_test

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

// walSyncs opens an engine whose WAL syncs are counted and take slow
// each, as a disk's do (an in-memory sync returns at once, so writers
// would never overlap one). A test with slow above zero runs in a
// synctest bubble, where the sleep is fake time.
func walSyncs(t *testing.T, interval, slow time.Duration) (storage.Engine, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	count := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") &&
			(op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo) {
			n.Add(1)
			if slow > 0 {
				time.Sleep(slow)
			}
		}
		return nil
	})
	e, err := pebble.Open("db", pebble.Options{
		FS: errorfs.Wrap(vfs.NewMem(), count), Logger: slog.New(slog.DiscardHandler), WALSyncInterval: interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, &n
}

func syncedWrite(t *testing.T, e storage.Engine, i int) {
	var b storage.Batch
	b.Set(storagetest.Key(i), []byte("v"))
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		t.Error(err)
	}
}

// TestWALSyncInterval: synced writes that arrive within the interval of
// the last WAL sync share the next one, so a node under load makes at most
// one sync per interval; a lone writer is never held back by it; with the
// interval off, every synced write of a lone writer makes its own.
func TestWALSyncInterval(t *testing.T) {
	t.Parallel()
	t.Run("shared", func(t *testing.T) {
		t.Parallel()
		// In a bubble: the disk's slow syncs, Pebble's sync timer and the
		// elapsed time below are all fake time, so the bound is exact on
		// any machine.
		synctest.Test(t, func(t *testing.T) {
			const interval, writers, each = 20 * time.Millisecond, 8, 10
			e, syncs := walSyncs(t, interval, 2*time.Millisecond)
			syncs.Store(0)
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						syncedWrite(t, e, w*each+i)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			// Syncs are at least interval apart: however slow the machine, no
			// more than elapsed/interval of them fit after the first.
			if got, most := syncs.Load(), int64(elapsed/interval)+1; got > most {
				t.Fatalf("%d synced writes made %d WAL syncs in %v: more than one per %v", writers*each, got, elapsed, interval)
			}
			if syncs.Load() == 0 {
				t.Fatal("no WAL sync counted: the counter sees nothing")
			}
		})
	})
	t.Run("lone", func(t *testing.T) {
		t.Parallel()
		// An interval no test outlives: a lone writer held by it even once
		// would not finish before the test's deadline.
		const writes = 20
		e, syncs := walSyncs(t, time.Hour, 0)
		syncs.Store(0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range writes {
				syncedWrite(t, e, i)
			}
		}()
		select {
		case <-done:
		case <-t.Context().Done():
			t.Fatal("a lone writer's synced writes waited out the sync interval")
		}
		if got := syncs.Load(); got < writes {
			t.Fatalf("%d synced writes one after another made %d WAL syncs, want one each", writes, got)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		const writes = 20
		e, syncs := walSyncs(t, -1, 0)
		syncs.Store(0)
		for i := range writes {
			syncedWrite(t, e, i)
		}
		if got := syncs.Load(); got < writes {
			t.Fatalf("%d synced writes one after another made %d WAL syncs, want one each", writes, got)
		}
	})
}
