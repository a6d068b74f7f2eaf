package replica

import (
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

// TestCacheStaysWithinItsBytes: however many objects pass through it,
// each shard holds at most its share of the bytes, and a deleted key is
// remembered as absent.
func TestCacheStaysWithinItsBytes(t *testing.T) {
	t.Parallel()
	const max = 64 * 1024
	c := newObjectCache(max)
	for i := range 10000 {
		c.wrote(fmt.Appendf(nil, "key-%d", i), make([]byte, i%300))
	}
	total := 0
	for i := range c.shards {
		sh := &c.shards[i]
		if sh.bytes > c.maxShardBytes {
			t.Errorf("shard %d holds %d bytes, more than its %d", i, sh.bytes, c.maxShardBytes)
		}
		n := 0
		for k, raw := range sh.m {
			n += len(k) + len(raw) + cacheEntryOverhead
		}
		if n != sh.bytes {
			t.Errorf("shard %d counts %d bytes, holds %d", i, sh.bytes, n)
		}
		total += n
	}
	if total == 0 || total > max {
		t.Errorf("the cache holds %d bytes; want some, at most %d", total, max)
	}
	c.wrote([]byte("gone"), nil)
	if raw, ok, _ := c.get([]byte("gone")); !ok || raw != nil {
		t.Errorf("a deleted key: %q %v, want known absent", raw, ok)
	}
}
