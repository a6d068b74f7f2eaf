package replica

import (
	"bytes"
	"sync"

	"github.com/zeebo/xxh3"
)

// The object cache keeps the encodings of recently read and written
// objects, by storage key, so that reading a hot key skips the storage
// engine (a Pebble point read walks the memtable's skiplist, a cache miss
// per level: about a tenth of a node's CPU under a read load).
//
// It is never ahead of or behind the engine for longer than a write holds
// its key's lock, by three rules:
//
//  1. Every write of a data key (Mutate, DeleteIfEqual) runs under the
//     key's lock and, after the engine's write returns, sets the key's
//     entry to what it wrote (absent for a delete) and bumps its shard's
//     version, in one critical section. A write the engine failed drops
//     the entry instead (it may or may not have been applied).
//  2. A read that misses notes its shard's version before reading the
//     engine, and fills the entry only if the version is unchanged and the
//     entry still missing: a write that overlapped the read either bumped
//     the version first (the fill is skipped) or sets its value after the
//     fill (the fill is overwritten).
//  3. A range deletion (a dropped namespace, a partition handed off) bumps
//     every shard's version and empties the cache once the engine's
//     deletion returns.
//
// Entries are evicted at random once a shard holds more than its share
// of the cache's bytes.

const cacheShards = 64

// cacheEntryOverhead is what an entry costs beyond its key and value
// bytes (map slot, string and slice headers), for the size bound.
const cacheEntryOverhead = 64

type objectCache struct {
	maxShardBytes int
	shards        [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	version uint64
	bytes   int
	m       map[string][]byte // nil value: the key holds no object
}

func newObjectCache(maxBytes int) *objectCache {
	c := &objectCache{maxShardBytes: maxBytes / cacheShards}
	for i := range c.shards {
		c.shards[i].m = map[string][]byte{}
	}
	return c
}

func (c *objectCache) shard(k []byte) *cacheShard {
	return &c.shards[xxh3.Hash(k)%cacheShards]
}

// get returns the encoding of the object at storage key k (nil: none) and
// whether the cache knew it; when it did not, version is what a fill of
// the entry must present (rule 2).
func (c *objectCache) get(k []byte) (raw []byte, ok bool, version uint64) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	raw, ok = sh.m[string(k)]
	return raw, ok, sh.version
}

// fill records what a read found at k, unless a write or a range deletion
// came since version.
func (c *objectCache) fill(k, raw []byte, version uint64) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.version != version {
		return
	}
	if _, ok := sh.m[string(k)]; ok {
		return
	}
	sh.putLocked(k, raw, c.maxShardBytes)
}

// wrote records a write of k (raw nil: a delete) that the engine applied.
func (c *objectCache) wrote(k, raw []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.version++
	sh.putLocked(k, raw, c.maxShardBytes)
}

// failed forgets k after a write the engine may or may not have applied.
func (c *objectCache) failed(k []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.version++
	sh.removeLocked(string(k))
}

// dropped empties the cache after a range deletion.
func (c *objectCache) dropped() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.version++
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

func (sh *cacheShard) putLocked(k, raw []byte, maxBytes int) {
	if old, ok := sh.m[string(k)]; ok && bytes.Equal(old, raw) && (old == nil) == (raw == nil) {
		return
	}
	sh.removeLocked(string(k))
	size := len(k) + len(raw) + cacheEntryOverhead
	if size > maxBytes {
		return // larger than the shard: not kept
	}
	for key := range sh.m { // random order: random eviction
		if sh.bytes+size <= maxBytes {
			break
		}
		sh.removeLocked(key)
	}
	sh.m[string(k)] = raw
	sh.bytes += size
}

func (sh *cacheShard) removeLocked(k string) {
	if raw, ok := sh.m[k]; ok {
		sh.bytes -= len(k) + len(raw) + cacheEntryOverhead
		delete(sh.m, k)
	}
}
