//go:build !race

package pebble_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble"
)

// TestEmptyKeyInSSTable checks that the empty key survives a flush and a
// reopen. It cannot run under -race: Pebble v2.1.7 turns its invariant checks
// on in race builds, and one of them (colblk.AssertKeyCompare) wrongly fires
// when an sstable starts with the empty key. Release builds are correct,
// which is what this test checks.
func TestEmptyKeyInSSTable(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	e, err := pebble.Open("db", pebble.Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	b.Set([]byte{}, []byte("empty key"))
	b.Set([]byte("a"), []byte{})
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = pebble.Open("db", pebble.Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if v, err := e.Get(nil); err != nil || string(v) != "empty key" {
		t.Errorf("Get(empty) = %q, %v", v, err)
	}
	it, err := e.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.SeekGE([]byte{}) || len(it.Key()) != 0 || !it.Next() || string(it.Key()) != "a" || it.Next() {
		t.Error("iteration over the empty key and \"a\" failed")
	}
}
