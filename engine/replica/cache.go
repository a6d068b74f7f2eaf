package replica

import (
	"bytes"
	"encoding/binary"
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
// Each shard keeps its entries in a ring of bytes and indexes them by the
// key's 64-bit hash: neither holds a pointer, so the garbage collector
// never scans the cache, however many objects it holds (a map of strings
// to byte slices of the same objects made every collection mark them, and
// a node's p99 during a handoff rose 1.5–2× with it). The oldest entries
// are overwritten first; an index entry whose bytes were overwritten is
// dropped when met, and all of them once per lap of the ring.

const cacheShards = 64

// A record in a shard's ring: key length (4 bytes), value length (4
// bytes; absentValue: the key holds no object), key, value.
const (
	recordHeader = 8
	absentValue  = 1<<32 - 1
)

type objectCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	version uint64
	index   map[uint64]uint64 // key hash → the record's position (below)
	ring    []byte
	// head is where the next record goes, counted in bytes written since
	// the shard was made: a record at position p sits at ring[p%len(ring)]
	// and is intact while head-p <= len(ring).
	head uint64
}

func newObjectCache(maxBytes int) *objectCache {
	c := &objectCache{}
	for i := range c.shards {
		c.shards[i].index = map[uint64]uint64{}
		c.shards[i].ring = make([]byte, max(maxBytes/cacheShards, 1024))
	}
	return c
}

func (c *objectCache) shard(h uint64) *cacheShard {
	return &c.shards[h%cacheShards]
}

// get returns the encoding of the object at storage key k (nil: none) and
// whether the cache knew it; when it did not, version is what a fill of
// the entry must present (rule 2).
func (c *objectCache) get(k []byte) (raw []byte, ok bool, version uint64) {
	h := xxh3.Hash(k)
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	raw, ok = sh.lookupLocked(h, k)
	return raw, ok, sh.version
}

// fill records what a read found at k, unless a write or a range deletion
// came since version.
func (c *objectCache) fill(k, raw []byte, version uint64) {
	h := xxh3.Hash(k)
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.version != version {
		return
	}
	if _, ok := sh.lookupLocked(h, k); ok {
		return
	}
	sh.putLocked(h, k, raw)
}

// wrote records a write of k (raw nil: a delete) that the engine applied.
func (c *objectCache) wrote(k, raw []byte) {
	h := xxh3.Hash(k)
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.version++
	sh.putLocked(h, k, raw)
}

// failed forgets k after a write the engine may or may not have applied.
func (c *objectCache) failed(k []byte) {
	h := xxh3.Hash(k)
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.version++
	delete(sh.index, h)
}

// dropped empties the cache after a range deletion.
func (c *objectCache) dropped() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.version++
		clear(sh.index)
		sh.mu.Unlock()
	}
}

// lookupLocked returns a copy of k's value (the ring is overwritten
// later) and whether the shard holds k.
func (sh *cacheShard) lookupLocked(h uint64, k []byte) ([]byte, bool) {
	pos, ok := sh.index[h]
	if !ok {
		return nil, false
	}
	if sh.head-pos > uint64(len(sh.ring)) {
		delete(sh.index, h) // overwritten
		return nil, false
	}
	rec := sh.ring[pos%uint64(len(sh.ring)):]
	klen, vlen := binary.BigEndian.Uint32(rec), binary.BigEndian.Uint32(rec[4:])
	if !bytes.Equal(rec[recordHeader:recordHeader+klen], k) {
		return nil, false // another key of the same hash
	}
	if vlen == absentValue {
		return nil, true
	}
	v := rec[recordHeader+klen:]
	return append([]byte(nil), v[:vlen]...), true
}

// putLocked appends a record of k and raw to the ring and points the
// index at it. A record larger than a quarter of the ring is not kept.
func (sh *cacheShard) putLocked(h uint64, k, raw []byte) {
	size := uint64(recordHeader + len(k) + len(raw))
	ringLen := uint64(len(sh.ring))
	if size > ringLen/4 {
		delete(sh.index, h)
		return
	}
	at := sh.head % ringLen
	if at+size > ringLen { // no room before the end: the record starts the next lap
		sh.head += ringLen - at
		at = 0
	}
	if at == 0 { // a lap begins
		sh.sweepLocked(size)
	}
	rec := sh.ring[at : at+size]
	binary.BigEndian.PutUint32(rec, uint32(len(k)))
	vlen := uint32(len(raw))
	if raw == nil {
		vlen = absentValue
	}
	binary.BigEndian.PutUint32(rec[4:], vlen)
	copy(rec[recordHeader:], k)
	copy(rec[recordHeader+len(k):], raw)
	sh.index[h] = sh.head
	sh.head += size
}

// sweepLocked drops the index entries whose records the next size bytes
// of the ring overwrite or already overwrote, once per lap.
func (sh *cacheShard) sweepLocked(size uint64) {
	limit := uint64(len(sh.ring))
	for h, pos := range sh.index {
		if sh.head+size-pos > limit {
			delete(sh.index, h)
		}
	}
}
