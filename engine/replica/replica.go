// Package replica stores the versioned objects of one node: it reads them,
// applies causal updates under a per-key lock, and persists them in the
// node's storage engine at the keys laid out by package keys.
//
// A [Store] knows nothing of quorums or peers; package node (and later the
// cluster coordinator) decide what to apply, and Store makes each
// read-modify-write atomic for its key.
//
// The Store also counts what each namespace stores here ([Usage]: live
// keys and their bytes), following every write and recounted a partition
// at a time ([Store.RecountUsage]); namespace quotas are enforced from
// these figures (engine/node/usage).
package replica

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
)

const lockStripes = 1024

// stripes are the locks of one namespace's keys (or of the hints).
type stripes [lockStripes]sync.Mutex

// Store is the local replica of every object this node holds. It is safe for
// concurrent use.
type Store struct {
	eng        storage.Engine
	partitions int
	hintLocks  stripes
	keyLocks   sync.Map // storage namespace → *stripes
	hintCount  atomic.Int64
	hintsByNS  sync.Map      // storage namespace → *atomic.Int64: hints kept of it
	hintCursor sync.Map      // owner → storage key where its next hint batch starts (Hints)
	hintFloor  sync.Map      // owner → hintFloor: where its first hint was (Hints)
	hintGen    atomic.Uint64 // hints created: a floor is good while it is unchanged
	observer   Observer
	resolve    ResolveHook
	usage      *usageTable    // what each namespace stores here (usage.go)
	cache      *objectCache   // nil: every read goes to the engine (cache.go)
	failer     storage.Failer // eng, if it tells its failure
}

// Observer is told of every change to a stored object, inside the key's
// lock, with the old and new encodings (nil when absent). The anti-entropy
// trees hang off it. It must be fast and must not call back into the Store.
type Observer func(partition uint16, nsKey []byte, old, new []byte)

// New returns a Store over eng with the cluster's partition count q. obs
// may be nil.
func New(eng storage.Engine, q int, obs Observer) (*Store, error) {
	s := &Store{eng: eng, partitions: q, observer: obs, usage: newUsageTable(q)}
	s.failer, _ = eng.(storage.Failer)
	if err := s.countHints(); err != nil {
		return nil, fmt.Errorf("replica: count hints: %w", err)
	}
	return s, nil
}

// CacheObjects keeps up to maxBytes of recently used objects in memory
// (cache.go), so that reads of hot keys skip the storage engine. Call it
// before the Store is used; maxBytes <= 0 keeps none.
func (s *Store) CacheObjects(maxBytes int) {
	if maxBytes > 0 {
		s.cache = newObjectCache(maxBytes)
	}
}

func (s *Store) hintLock(k []byte) *sync.Mutex {
	return &s.hintLocks[xxh3.Hash(k)%lockStripes]
}

// keyLock returns the lock a key's read-modify-write holds. Each namespace
// has stripes of its own: what runs under a key's lock (an on_write
// resolver at a merge) can hold up keys of its own namespace only, never
// another tenant's.
func (s *Store) keyLock(ns string, key []byte) *sync.Mutex {
	v, ok := s.keyLocks.Load(ns)
	if !ok {
		v, _ = s.keyLocks.LoadOrStore(ns, new(stripes))
	}
	return &v.(*stripes)[keys.Hash(ns, key)%lockStripes]
}

// Partition returns the partition of a key.
func (s *Store) Partition(ns string, key []byte) uint16 {
	return keys.Partition(ns, key, s.partitions)
}

// Partitions returns the cluster's partition count.
func (s *Store) Partitions() int { return s.partitions }

// Get returns the stored object of a key; the zero Object if there is none.
func (s *Store) Get(ns string, key []byte) (dvv.Object, error) {
	k := keys.Data(s.Partition(ns, key), ns, key)
	raw, err := s.read(k)
	if err != nil {
		return dvv.Object{}, err
	}
	return decode(k, raw)
}

// get returns the object at a key the cache does not follow (a hint's).
func (s *Store) get(k []byte) (dvv.Object, error) {
	raw, err := s.eng.Get(k)
	if errors.Is(err, storage.ErrNotFound) {
		return dvv.Object{}, nil
	}
	if err != nil {
		return dvv.Object{}, fmt.Errorf("replica: read: %w", err)
	}
	return decode(k, raw)
}

// decode decodes the object stored at k; nil is none.
func decode(k, raw []byte) (dvv.Object, error) {
	if raw == nil {
		return dvv.Object{}, nil
	}
	obj, err := dvv.Unmarshal(raw)
	if err != nil {
		return dvv.Object{}, fmt.Errorf("replica: decode %x: %w", k, err)
	}
	return obj, nil
}

// read returns the encoding of the object at data key k, nil if there is
// none: from the cache, or from the engine (then the cache keeps it). Only
// data keys go through the cache: every write of one goes through this
// Store (Mutate, DeleteIfEqual, DropRanges), which keeps it in step.
func (s *Store) read(k []byte) ([]byte, error) {
	var version uint64
	if s.cache != nil && s.usable() {
		raw, ok, v := s.cache.get(k)
		if ok {
			return raw, nil
		}
		version = v
	}
	raw, err := s.eng.Get(k)
	if errors.Is(err, storage.ErrNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replica: read: %w", err)
	}
	if s.cache != nil {
		s.cache.fill(k, raw, version)
	}
	return raw, nil
}

// usable reports whether the engine has not failed: a failed engine
// answers nothing, and neither does the cache in front of it.
func (s *Store) usable() bool {
	return s.failer == nil || s.failer.Failure() == nil
}

// wrote tells the cache how a write of data key k ended: raw (nil: the
// key deleted) when err is nil.
func (s *Store) wrote(k, raw []byte, err error) {
	switch {
	case s.cache == nil:
	case err != nil:
		s.cache.failed(k)
	default:
		s.cache.wrote(k, raw)
	}
}

// Mutate runs fn on the current object of a key while holding the key's
// lock, and persists what fn returns. If fn fails nothing is written.
func (s *Store) Mutate(ns string, key []byte, sync bool, fn func(cur dvv.Object) (dvv.Object, error)) (dvv.Object, error) {
	p := s.Partition(ns, key)
	k := keys.Data(p, ns, key)
	mu := s.keyLock(ns, key)
	mu.Lock()
	defer mu.Unlock()
	old, err := s.read(k)
	if err != nil {
		return dvv.Object{}, err
	}
	var cur dvv.Object
	if old != nil {
		if cur, err = dvv.Unmarshal(old); err != nil {
			return dvv.Object{}, fmt.Errorf("replica: decode %x: %w", k, err)
		}
	}
	next, err := fn(cur)
	if err != nil {
		return dvv.Object{}, err
	}
	if next.Equal(cur) {
		// Nothing to write, but a synced write promises durability: the
		// object may have been written unsynced before.
		if sync {
			if err := s.eng.Sync(); err != nil {
				return dvv.Object{}, fmt.Errorf("replica: sync: %w", err)
			}
		}
		return cur, nil
	}
	raw, err := next.MarshalBinary()
	if err != nil {
		return dvv.Object{}, fmt.Errorf("replica: encode: %w", err)
	}
	var b storage.Batch
	b.Set(k, raw)
	err = s.write(p, ns, &b, sync, UsageOf(key, next).Sub(UsageOf(key, cur)))
	s.wrote(k, raw, err)
	if err != nil {
		return dvv.Object{}, err
	}
	if s.observer != nil {
		s.observer(p, k[3:], old, raw)
	}
	return next, nil
}

// write applies a batch that changes a key of namespace ns in partition
// p, and counts the change in the namespace's usage (see usageTable).
func (s *Store) write(p uint16, ns string, b *storage.Batch, sync bool, delta Usage) error {
	fence := &s.usage.parts[p].fence
	fence.RLock()
	defer fence.RUnlock()
	if err := s.eng.Apply(b, storage.WriteOptions{Sync: sync}); err != nil {
		return fmt.Errorf("replica: write: %w", err)
	}
	s.usage.add(p, ns, delta)
	return nil
}

// Sync makes every write made so far durable (unsynced ones included).
func (s *Store) Sync() error {
	if err := s.eng.Sync(); err != nil {
		return fmt.Errorf("replica: sync: %w", err)
	}
	return nil
}

// Merge folds an object received from another replica into the local one
// (DVVSet sync), runs the resolve hook if siblings remain, and persists the
// result.
func (s *Store) Merge(ns string, key []byte, in dvv.Object, sync bool) (dvv.Object, error) {
	return s.Mutate(ns, key, sync, func(cur dvv.Object) (dvv.Object, error) {
		out := dvv.Sync(cur, in)
		if s.resolve != nil && out.Len() > 1 {
			out = s.resolve(ns, key, cur, out, sync)
		}
		return out, nil
	})
}

// MergeAsIs is Merge without the resolve hook: the siblings stay as the
// merge leaves them.
func (s *Store) MergeAsIs(ns string, key []byte, in dvv.Object, sync bool) (dvv.Object, error) {
	return s.Mutate(ns, key, sync, func(cur dvv.Object) (dvv.Object, error) {
		return dvv.Sync(cur, in), nil
	})
}

// ResolveHook merges siblings where versions meet (on_write resolvers): cur
// is the local copy before the merge, merged the result, synced whether the
// result is written with a synced write. It runs under the key's lock and
// must return merged unchanged when it cannot resolve.
type ResolveHook func(ns string, key []byte, cur, merged dvv.Object, synced bool) dvv.Object

// SetResolveHook installs the hook Merge runs. Call it before the store is
// shared.
func (s *Store) SetResolveHook(h ResolveHook) { s.resolve = h }

// Entry is one stored object met by [Store.Scan].
type Entry struct {
	Key    []byte // the user key; valid only during the callback
	Object dvv.Object
}

// Scan calls fn for each object of a namespace in one partition with a key
// >= from, in key order, until fn returns false or an error.
func (s *Store) Scan(partition uint16, ns string, from []byte, fn func(Entry) (bool, error)) error {
	lo, hi := keys.NamespaceRange(partition, ns)
	it, err := s.eng.NewIter(lo, hi)
	if err != nil {
		return fmt.Errorf("replica: scan: %w", err)
	}
	defer it.Close()
	for ok := it.SeekGE(keys.Data(partition, ns, from)); ok; ok = it.Next() {
		_, _, key, err := keys.ParseData(it.Key())
		if err != nil {
			return err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return fmt.Errorf("replica: decode %x: %w", it.Key(), err)
		}
		more, err := fn(Entry{Key: key, Object: obj})
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// DeleteIfEqual removes a key's object if it is exactly obj (a purge of a
// tombstone every replica holds). It reports whether it removed it. An
// object with a live sibling is never removed: only tombstones are
// purged, whoever asks.
func (s *Store) DeleteIfEqual(ns string, key []byte, obj dvv.Object) (bool, error) {
	if obj.HasLive() {
		return false, nil
	}
	p := s.Partition(ns, key)
	k := keys.Data(p, ns, key)
	mu := s.keyLock(ns, key)
	mu.Lock()
	defer mu.Unlock()
	old, err := s.read(k)
	if err != nil || old == nil {
		return false, err
	}
	cur, err := dvv.Unmarshal(old)
	if err != nil {
		return false, fmt.Errorf("replica: decode %x: %w", k, err)
	}
	if !cur.Equal(obj) {
		return false, nil
	}
	var b storage.Batch
	b.Delete(k)
	err = s.eng.Apply(&b, storage.WriteOptions{Sync: true})
	s.wrote(k, nil, err)
	if err != nil {
		return false, fmt.Errorf("replica: delete: %w", err)
	}
	if s.observer != nil {
		s.observer(p, k[3:], old, nil)
	}
	return true, nil
}
