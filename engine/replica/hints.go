package replica

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
)

// Hint is an object a fallback node keeps for an owner that could not take
// a write (sloppy quorum), until it can be delivered.
type Hint struct {
	Owner     string
	Namespace string
	Key       []byte
	Object    dvv.Object
}

// StoreHint merges obj into the hint this node keeps for owner. Hints live
// in their own keyspace and survive restarts.
func (s *Store) StoreHint(owner, ns string, key []byte, obj dvv.Object, sync bool) error {
	k := keys.Hint(owner, ns, key)
	mu := s.hintLock(k)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.get(k)
	if err != nil {
		return err
	}
	next := dvv.Sync(cur, obj)
	if next.Equal(cur) {
		return nil
	}
	raw, err := next.MarshalBinary()
	if err != nil {
		return fmt.Errorf("replica: encode hint: %w", err)
	}
	var b storage.Batch
	b.Set(k, raw)
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: sync}); err != nil {
		return fmt.Errorf("replica: write hint: %w", err)
	}
	if cur.IsZero() {
		s.hintCount.Add(1)
		s.hintsOf(ns).Add(1)
		s.hintGen.Add(1) // a new hint may lie below an owner's floor
	}
	return nil
}

// hintShare is how many hints of one namespace a batch takes before it
// turns to the next namespace's.
const hintShare = 32

// Hints returns up to limit hints kept for owner ("" for every owner). The
// batch is fair between tenants: it takes at most hintShare hints of each
// namespace in turn, round after round, so that a namespace with a large
// backlog does not hold up the few hints of another until its own are
// delivered (hints are stored in namespace order); and each batch starts
// at the namespace after the last one the previous batch took from, so
// that with more namespaces than a batch reaches, every one is served in
// turn.
//
// Delivered hints leave deletion tombstones at the front of their owner's
// range until a compaction drops them, and a scan from the front would
// step over every one, in every batch: delivering a backlog of n hints
// cost time quadratic in n (25 ms of CPU a batch of 256 after 30,000
// hints). The scan starts instead at the owner's floor, the first hint
// the previous batch found, as long as no hint was created since (a new
// one may lie below it).
func (s *Store) Hints(owner string, limit int) ([]Hint, error) {
	lo, hi := keys.HintRange(owner)
	start := lo
	if c, ok := s.hintCursor.Load(owner); ok && bytes.Compare(c.([]byte), lo) > 0 {
		start = c.([]byte)
	}
	gen := s.hintGen.Load() // before the scan: a hint created during it voids the floor
	low := lo
	if f, ok := s.hintFloor.Load(owner); ok && f.(hintFloor).gen == gen {
		low = f.(hintFloor).key
	}
	it, err := s.eng.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("replica: scan hints: %w", err)
	}
	defer it.Close()
	b := hintBatch{it: it, limit: limit, last: map[string][]byte{}, done: map[string]bool{}, low: low, hi: hi}
	defer func() { s.hintFloor.Store(owner, hintFloor{gen: gen, key: b.low}) }()
	for len(b.out) < limit {
		before := len(b.out)
		if err := b.pass(start, nil); err != nil { // from the cursor on,
			return nil, err
		}
		if err := b.pass(lo, start); err != nil { // then round to it
			return nil, err
		}
		if len(b.out) == before {
			break
		}
	}
	if b.next != nil {
		s.hintCursor.Store(owner, b.next)
	}
	return b.out, it.Error()
}

// hintBatch is one call of Hints.
type hintBatch struct {
	it    storage.Iterator
	limit int
	out   []Hint
	last  map[string][]byte // per owner and namespace: the storage key of the last hint taken
	done  map[string]bool   // owners and namespaces with no hint left
	next  []byte            // where the next batch starts: the end of the last namespace taken from
	low   []byte            // no hint of the owner lies below it: the first one, once a seek found it
	hi    []byte            // the end of the owner's hints
}

// hintFloor is where an owner's first hint was, as of hint generation gen
// (Store.hintGen): no hint of the owner lay below key.
type hintFloor struct {
	gen uint64
	key []byte
}

// seek positions the iterator at the first hint at or after from, never
// stepping over the hints below the floor, and moves the floor up to the
// first hint when the seek found it.
func (b *hintBatch) seek(from []byte) bool {
	if bytes.Compare(from, b.low) > 0 {
		return b.it.SeekGE(from)
	}
	ok := b.it.SeekGE(b.low)
	if ok {
		b.low = bytes.Clone(b.it.Key())
	} else {
		b.low = b.hi
	}
	return ok
}

// pass takes up to hintShare hints of each namespace whose hints start in
// [from, to) (to nil: to the end), in key order.
func (b *hintBatch) pass(from, to []byte) error {
	it := b.it
	for ok := b.seek(from); ok && len(b.out) < b.limit && (to == nil || bytes.Compare(it.Key(), to) < 0); {
		o, ns, _, err := keys.ParseHint(it.Key())
		if err != nil {
			return err
		}
		seg, end := o+"\x00"+ns, keys.HintNamespaceEnd(o, ns)
		if b.done[seg] {
			ok = b.seek(end)
			continue
		}
		if k, seen := b.last[seg]; seen {
			ok = it.SeekGE(append(bytes.Clone(k), 0)) // the hint after it
		}
		for taken := 0; ok && taken < hintShare && len(b.out) < b.limit && bytes.Compare(it.Key(), end) < 0; taken++ {
			h, err := decodeHint(it.Key(), it.Value())
			if err != nil {
				return err
			}
			b.out = append(b.out, h)
			b.last[seg] = bytes.Clone(it.Key())
			b.next = end
			ok = it.Next()
		}
		if !ok || bytes.Compare(it.Key(), end) >= 0 {
			b.done[seg] = true
		}
		ok = b.seek(end)
	}
	return nil
}

// decodeHint is the hint stored under storage key k with value v.
func decodeHint(k, v []byte) (Hint, error) {
	o, ns, key, err := keys.ParseHint(k)
	if err != nil {
		return Hint{}, err
	}
	obj, err := dvv.Unmarshal(v)
	if err != nil {
		return Hint{}, fmt.Errorf("replica: decode hint %x: %w", k, err)
	}
	return Hint{Owner: o, Namespace: ns, Key: append([]byte(nil), key...), Object: obj}, nil
}

// GetWithHints returns a key's object merged with every hint this node
// keeps for it, whatever the owner: what a fallback answers a read with, so
// that writes it took for an unreachable replica count in a sloppy read.
//
// Hints are laid out owner first, so it seeks once per owner that has
// hints (a few at most; none on a healthy cluster, where it costs nothing).
func (s *Store) GetWithHints(ns string, key []byte) (dvv.Object, error) {
	obj, err := s.Get(ns, key)
	if err != nil || s.hintCount.Load() == 0 {
		return obj, err
	}
	lo, hi := keys.HintRange("")
	it, err := s.eng.NewIter(lo, hi)
	if err != nil {
		return dvv.Object{}, fmt.Errorf("replica: scan hints: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; {
		owner, _, _, err := keys.ParseHint(it.Key())
		if err != nil {
			return dvv.Object{}, err
		}
		k := keys.Hint(owner, ns, key)
		if it.SeekGE(k) && bytes.Equal(it.Key(), k) {
			h, err := dvv.Unmarshal(it.Value())
			if err != nil {
				return dvv.Object{}, fmt.Errorf("replica: decode hint %x: %w", k, err)
			}
			obj = dvv.Sync(obj, h)
		}
		_, next := keys.HintRange(owner) // past every hint of this owner
		ok = it.SeekGE(next)
	}
	return obj, it.Error()
}

// DropHint deletes a delivered hint, unless it changed since it was read
// (a newer write merged into it), in which case it stays for the next round.
func (s *Store) DropHint(h Hint) error {
	k := keys.Hint(h.Owner, h.Namespace, h.Key)
	mu := s.hintLock(k)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.get(k)
	if err != nil || cur.IsZero() || !cur.Equal(h.Object) {
		return err
	}
	var b storage.Batch
	b.Delete(k)
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: false}); err != nil {
		return fmt.Errorf("replica: drop hint: %w", err)
	}
	s.hintCount.Add(-1)
	s.hintsOf(h.Namespace).Add(-1)
	return nil
}

// HintBacklog is the number of hints this node keeps.
func (s *Store) HintBacklog() int64 { return s.hintCount.Load() }

// HintBacklogOf is the number of hints this node keeps of a storage
// namespace's keys.
func (s *Store) HintBacklogOf(ns string) int64 {
	if c, ok := s.hintsByNS.Load(ns); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// hintsOf is the counter of the hints kept of a storage namespace.
func (s *Store) hintsOf(ns string) *atomic.Int64 {
	if c, ok := s.hintsByNS.Load(ns); ok {
		return c.(*atomic.Int64)
	}
	c, _ := s.hintsByNS.LoadOrStore(ns, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// countHints initialises the backlog counter from storage.
func (s *Store) countHints() error {
	lo, hi := keys.HintRange("")
	it, err := s.eng.NewIter(lo, hi)
	if err != nil {
		return err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
		if _, ns, _, err := keys.ParseHint(it.Key()); err == nil {
			s.hintsOf(ns).Add(1)
		}
	}
	s.hintCount.Store(n)
	return errors.Join(it.Error(), it.Close())
}
