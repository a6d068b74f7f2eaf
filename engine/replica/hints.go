package replica

import (
	"bytes"
	"errors"
	"fmt"

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
	}
	return nil
}

// Hints returns up to limit hints kept for owner (all owners when owner is
// empty), in key order.
func (s *Store) Hints(owner string, limit int) ([]Hint, error) {
	lo, hi := keys.HintRange(owner)
	it, err := s.eng.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("replica: scan hints: %w", err)
	}
	defer it.Close()
	var out []Hint
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		o, ns, key, err := keys.ParseHint(it.Key())
		if err != nil {
			return nil, err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return nil, fmt.Errorf("replica: decode hint %x: %w", it.Key(), err)
		}
		out = append(out, Hint{Owner: o, Namespace: ns, Key: append([]byte(nil), key...), Object: obj})
	}
	return out, it.Error()
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
	return nil
}

// HintBacklog is the number of hints this node keeps.
func (s *Store) HintBacklog() int64 { return s.hintCount.Load() }

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
	}
	s.hintCount.Store(n)
	return errors.Join(it.Error(), it.Close())
}
