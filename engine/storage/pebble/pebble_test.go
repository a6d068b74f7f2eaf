package pebble_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

// quiet is the logger of the tests: Pebble's informational lines are noise.
var quiet = slog.New(slog.DiscardHandler)

// openMem opens an engine on a fresh in-memory filesystem with a small
// memtable, so that tests also read from flushed sstables.
func openMem(t testing.TB) *pebble.Engine {
	t.Helper()
	e, err := pebble.Open("db", pebble.Options{
		FS:           vfs.NewMem(),
		Logger:       quiet,
		CacheSize:    8 << 20,
		MemTableSize: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, func(t *testing.T) storage.Engine { return openMem(t) })
}

// BenchmarkEngine runs on the real disk so that Sync costs an fsync.
func BenchmarkEngine(b *testing.B) {
	storagetest.RunBenchmarks(b, func(b *testing.B) storage.Engine {
		e, err := pebble.Open(b.TempDir(), pebble.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return e
	})
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		opts  pebble.Options
		valid bool
	}{
		{"zero", pebble.Options{}, true},
		{"sizes", pebble.Options{CacheSize: 1 << 30, MemTableSize: 256 << 20, MaxOpenFiles: 10}, true},
		{"negative cache", pebble.Options{CacheSize: -1}, false},
		{"memtable too large", pebble.Options{MemTableSize: 4 << 30}, false},
		{"negative open files", pebble.Options{MaxOpenFiles: -1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.opts.Validate()
			if (err == nil) != c.valid {
				t.Errorf("Validate() = %v, want valid %v", err, c.valid)
			}
			if !c.valid {
				if _, err := pebble.Open(t.TempDir(), c.opts); err == nil {
					t.Error("Open accepted invalid options")
				}
			}
		})
	}
}

// TestReopenDisk checks that data written to a real directory, synced or
// not, survives Close and Open, including deletes and range deletes.
func TestReopenDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := pebble.Open(dir, pebble.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	for i := range 1000 {
		b.Set(storagetest.Key(i), bytes.Repeat([]byte{'v'}, i))
	}
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.Delete(storagetest.Key(0))
	b.DeleteRange(storagetest.Key(100), storagetest.Key(200))
	b.Set([]byte("unsynced"), []byte("still here after a clean Close"))
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.DiskSpaceUsage == 0 || m.LiveSSTableBytes == 0 || m.Flushes == 0 {
		t.Errorf("metrics after a flush: %+v", m)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Metrics(); err == nil {
		t.Error("Metrics after Close succeeded")
	}

	e, err = pebble.Open(dir, pebble.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := storagetest.Collect(t, e, storagetest.Key(0), storagetest.Key(1000))
	if len(got) != 1000-1-100 {
		t.Fatalf("after reopen: %d keys, want %d", len(got), 1000-1-100)
	}
	for _, kv := range got {
		var i int
		for _, c := range kv.Key[len("key-"):] {
			i = i*10 + int(c-'0')
		}
		if i == 0 || (i >= 100 && i < 200) || len(kv.Value) != i {
			t.Fatalf("after reopen: unexpected %q with %d value bytes", kv.Key, len(kv.Value))
		}
	}
	if v, err := e.Get([]byte("unsynced")); err != nil || len(v) == 0 {
		t.Errorf("unsynced key after reopen: %q, %v", v, err)
	}
}

// TestLoggerAdapter checks that Pebble's log lines reach the slog logger.
func TestLoggerAdapter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := pebble.Open("db", pebble.Options{FS: vfs.NewMem(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("component=pebble")) {
		t.Logf("log output: %s", buf.Bytes())
		t.Error("no log line from pebble reached the slog logger")
	}
}
