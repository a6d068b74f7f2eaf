package memory_test

import (
	"testing"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, func(*testing.T) storage.Engine { return memory.New() })
}

func BenchmarkEngine(b *testing.B) {
	storagetest.RunBenchmarks(b, func(*testing.B) storage.Engine { return memory.New() })
}

// TestSnapshotsShareStructure checks that many snapshots of a large engine
// are cheap to take and stay independent while the engine changes.
func TestSnapshotsShareStructure(t *testing.T) {
	t.Parallel()
	e := memory.New()
	defer e.Close()
	var b storage.Batch
	for i := range 10_000 {
		b.Set(storagetest.Key(i), []byte("v0"))
	}
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var snaps []storage.Snapshot
	for gen := range 100 {
		s, err := e.NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
		b.Reset()
		b.Set(storagetest.Key(gen), []byte("changed"))
		if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for gen, s := range snaps {
		// Snapshot gen was taken before key gen changed.
		if v, err := s.Get(storagetest.Key(gen)); err != nil || string(v) != "v0" {
			t.Fatalf("snapshot %d: key %d = %q, %v", gen, gen, v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if e.Len() != 10_000 {
		t.Errorf("Len = %d", e.Len())
	}
}
