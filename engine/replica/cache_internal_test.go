package replica

import (
	"bytes"
	"fmt"
	"testing"
)

// TestCacheRefusesAStaleFill: a read that missed fills the entry only if
// no write of its shard came between its miss and its fill, even when the
// write's own entry was evicted meanwhile (rule 2 of cache.go).
func TestCacheRefusesAStaleFill(t *testing.T) {
	t.Parallel()
	c := newObjectCache(1 << 20)
	k := []byte("k")
	if _, ok, _ := c.get(k); ok {
		t.Fatal("a fresh cache knows k")
	}
	_, _, version := c.get(k) // a read misses, then reads v1 from the engine…
	c.wrote(k, []byte("v2"))  // …while a write stores v2
	c.fill(k, []byte("v1"), version)
	if raw, ok, _ := c.get(k); !ok || string(raw) != "v2" {
		t.Fatalf("after a stale fill: %q %v, want v2", raw, ok)
	}

	_, _, version = c.get([]byte("other"))
	c.wrote(k, []byte("v3"))
	c.failed(k) // evicted, or its write failed
	c.fill(k, []byte("v2"), version)
	if _, ok, _ := c.get(k); ok {
		t.Fatal("a fill older than the last write of its shard was kept")
	}

	_, _, version = c.get(k)
	c.fill(k, []byte("v3"), version)
	if raw, ok, _ := c.get(k); !ok || string(raw) != "v3" {
		t.Fatalf("a fill with nothing in between: %q %v, want v3", raw, ok)
	}
	_, _, version = c.get([]byte("x"))
	c.dropped()
	c.fill([]byte("x"), []byte("old"), version)
	if _, ok, _ := c.get(k); ok {
		t.Fatal("an entry survived a range deletion")
	}
	if _, ok, _ := c.get([]byte("x")); ok {
		t.Fatal("a fill from before a range deletion was kept")
	}
}

// TestCacheStaysWithinItsBytes: however many objects pass through it, the
// cache holds its bytes in rings of a fixed size, its index does not grow
// past what two laps of a ring can hold, the objects written last read
// back, and a deleted key is remembered as absent.
func TestCacheStaysWithinItsBytes(t *testing.T) {
	t.Parallel()
	const max = 64 * 4096
	c := newObjectCache(max)
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%300) }
	const n = 20000
	for i := range n {
		c.wrote(fmt.Appendf(nil, "key-%d", i), val(i))
	}
	for i := range c.shards {
		sh := &c.shards[i]
		if len(sh.ring) != max/cacheShards {
			t.Errorf("shard %d's ring is %d bytes, want %d", i, len(sh.ring), max/cacheShards)
		}
		if most := 2 * len(sh.ring) / (recordHeader + len("key-0")); len(sh.index) > most {
			t.Errorf("shard %d indexes %d records, more than two laps of its ring hold (%d)", i, len(sh.index), most)
		}
	}
	for i := n - 20; i < n; i++ {
		raw, ok, _ := c.get(fmt.Appendf(nil, "key-%d", i))
		if !ok || !bytes.Equal(raw, val(i)) {
			t.Errorf("key-%d, written last: %v, %d bytes; want its %d bytes", i, ok, len(raw), len(val(i)))
		}
	}
	if _, ok, _ := c.get([]byte("key-0")); ok {
		t.Error("key-0, written first, is still there after many laps")
	}
	c.wrote([]byte("gone"), nil)
	if raw, ok, _ := c.get([]byte("gone")); !ok || raw != nil {
		t.Errorf("a deleted key: %q %v, want known absent", raw, ok)
	}
	c.wrote([]byte("huge"), make([]byte, max/cacheShards))
	if _, ok, _ := c.get([]byte("huge")); ok {
		t.Error("an object larger than a quarter of its ring was kept")
	}
}

// TestCacheHitIsACopy: what a hit returns stays as it was while later
// writes overwrite the ring under it.
func TestCacheHitIsACopy(t *testing.T) {
	t.Parallel()
	c := newObjectCache(64 * 1024)
	c.wrote([]byte("k"), []byte("value of k"))
	raw, ok, _ := c.get([]byte("k"))
	if !ok {
		t.Fatal("k is not cached")
	}
	for i := range 1000 {
		c.wrote([]byte("k"), fmt.Appendf(nil, "overwritten %d", i))
	}
	if string(raw) != "value of k" {
		t.Fatalf("a value read from the cache changed to %q", raw)
	}
}
