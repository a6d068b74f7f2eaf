package pebble_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

// Each crash-test batch of writer w and number i sets crashKeys keys
// w/<w>/<i>/<k>, sets the marker w/<w>/last to i, and deletes the range of
// the previous batch's scratch keys while setting its own, so that a
// partially applied batch shows up as a missing key, a stale marker or a
// leftover scratch key.
const crashKeys = 4

func crashKey(w, i, k int) []byte { return fmt.Appendf(nil, "w/%d/%06d/%d", w, i, k) }
func scratchKey(w, i int) []byte  { return fmt.Appendf(nil, "s/%d/%06d", w, i) }
func markerKey(w int) []byte      { return fmt.Appendf(nil, "w/%d/last", w) }

func crashBatch(b *storage.Batch, w, i int) {
	b.Reset()
	v := fmt.Appendf(nil, "%d/%d", w, i)
	for k := range crashKeys {
		b.Set(crashKey(w, i, k), v)
	}
	b.Set(markerKey(w), v)
	b.DeleteRange(scratchKey(w, 0), scratchKey(w, i))
	b.Set(scratchKey(w, i), v)
}

// TestCrashKeepsSyncedWrites crashes a store under concurrent synced writers
// (synced by Apply, or by a Sync after it)
// at a random moment, using Pebble's crashable in-memory filesystem, and
// checks that every batch whose Apply had returned survives the crash and
// that no batch is partially applied.
func TestCrashKeepsSyncedWrites(t *testing.T) {
	t.Parallel()
	rounds := 8
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Parallel()
			testCrash(t, uint64(round))
		})
	}
}

func testCrash(t *testing.T, seed uint64) {
	const writers, maxBatches = 6, 400
	rng := rand.New(rand.NewPCG(seed, 42))
	fs := vfs.NewCrashableMem()
	// A small memtable makes flushes and compactions run during the test.
	opts := pebble.Options{FS: fs, Logger: quiet, MemTableSize: 64 << 10, CacheSize: 1 << 20}
	e, err := pebble.Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}

	acked := make([]atomic.Int64, writers) // acked[w]: batches of w whose Apply returned
	acks := make(chan struct{}, writers*maxBatches)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var b storage.Batch
			for i := range maxBatches {
				select {
				case <-stop:
					return
				default:
				}
				crashBatch(&b, w, i)
				// Odd writers apply unsynced and then call Sync, as a
				// receiver of a batch of replicated objects does.
				synced := w%2 == 0
				if err := e.Apply(&b, storage.WriteOptions{Sync: synced}); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
				if !synced {
					if err := e.Sync(); err != nil {
						t.Errorf("Sync: %v", err)
						return
					}
				}
				acked[w].Store(int64(i + 1))
				acks <- struct{}{}
			}
		})
	}

	// Crash after a random number of acknowledged batches. The counters are
	// read before the clone, so every batch they count was acknowledged
	// before the crash.
	for range 1 + rng.IntN(writers*maxBatches/2) {
		<-acks
	}
	mustHave := make([]int, writers)
	for w := range mustHave {
		mustHave[w] = int(acked[w].Load())
	}
	unsynced := []int{0, 50, 100}[rng.IntN(3)]
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(seed, 7))})
	close(stop)
	wg.Wait()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	opts.FS = crashed
	e, err = pebble.Open("db", opts)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer e.Close()
	for w := range writers {
		checkWriter(t, e, w, mustHave[w])
	}
	t.Logf("crash after %v acknowledged batches per writer, %d%% of unsynced data kept", mustHave, unsynced)
}

// checkWriter checks that writer w's surviving batches are a prefix of at
// least mustHave complete batches.
func checkWriter(t *testing.T, e storage.Engine, w, mustHave int) {
	t.Helper()
	kvs := storagetest.Collect(t, e, fmt.Appendf(nil, "w/%d/", w), fmt.Appendf(nil, "w/%d/~", w))
	marker, err := e.Get(markerKey(w))
	if err != nil && mustHave > 0 {
		t.Fatalf("writer %d: marker: %v", w, err)
	}
	// Count the complete batches and check that they form a prefix.
	present := 0
	for _, kv := range kvs {
		if strings.HasSuffix(kv.Key, "/last") {
			continue
		}
		i, k := present/crashKeys, present%crashKeys
		if kv.Key != string(crashKey(w, i, k)) || kv.Value != fmt.Sprintf("%d/%d", w, i) {
			t.Fatalf("writer %d: found %q=%q where batch %d key %d was due", w, kv.Key, kv.Value, i, k)
		}
		present++
	}
	if present%crashKeys != 0 {
		t.Fatalf("writer %d: partial batch: %d keys", w, present)
	}
	batches := present / crashKeys
	if batches < mustHave {
		t.Fatalf("writer %d: %d batches survived, %d were acknowledged", w, batches, mustHave)
	}
	if batches == 0 {
		return
	}
	last := fmt.Sprintf("%d/%d", w, batches-1)
	if string(marker) != last {
		t.Fatalf("writer %d: marker %q, want %q", w, marker, last)
	}
	scratch := storagetest.Collect(t, e, scratchKey(w, 0), scratchKey(w, 1<<30))
	if len(scratch) != 1 || scratch[0].Key != string(scratchKey(w, batches-1)) {
		t.Fatalf("writer %d: scratch keys %q, want only batch %d's", w, scratch, batches-1)
	}
}
