package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
)

// Usage is what a namespace stores: its live keys (keys with at least one
// sibling that is not a tombstone) and their bytes (each live key's own
// bytes plus the values of its live siblings). Tombstones, causal clocks
// and storage overhead are not counted: the figures are what a tenant
// stores, not what the disk holds.
type Usage struct {
	Keys  int64 `json:"keys"`
	Bytes int64 `json:"bytes"`
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage { return Usage{Keys: u.Keys + v.Keys, Bytes: u.Bytes + v.Bytes} }

// Sub returns u - v.
func (u Usage) Sub(v Usage) Usage { return Usage{Keys: u.Keys - v.Keys, Bytes: u.Bytes - v.Bytes} }

// UsageOf is what obj stores under key: nothing when it has no live
// sibling.
func UsageOf(key []byte, obj dvv.Object) Usage {
	var u Usage
	for s := range obj.All() {
		if !s.Tombstone {
			u.Keys = 1
			u.Bytes += int64(len(s.Value))
		}
	}
	if u.Keys == 1 {
		u.Bytes += int64(len(key))
	}
	return u
}

// usageTable counts, per partition, what each storage namespace stores,
// and keeps the per-namespace totals of the whole node.
//
// The figures follow every write (the delta between the old and the new
// object, added by the writer) and are recounted one partition at a time
// ([Store.RecountUsage]) so that they are right after a restart and heal
// any drift. A recount reads a snapshot and adds the changes made after
// it; a partition's fence makes each write land wholly before or wholly
// after the snapshot: writers hold it shared from their storage write to
// their delta, a recount holds it exclusively only while it takes the
// snapshot.
type usageTable struct {
	parts     []usagePart
	totals    sync.Map   // storage namespace → *usageCounter
	recountMu sync.Mutex // one recount at a time
}

type usagePart struct {
	fence sync.RWMutex

	mu    sync.Mutex
	byNS  map[string]Usage
	since map[string]Usage // while a recount runs: the changes after its snapshot
	gen   uint64           // bumped by a range deletion: a recount running across it is void
}

type usageCounter struct{ keys, bytes atomic.Int64 }

func newUsageTable(q int) *usageTable {
	t := &usageTable{parts: make([]usagePart, q)}
	for i := range t.parts {
		t.parts[i].byNS = map[string]Usage{}
	}
	return t
}

func (t *usageTable) counter(ns string) *usageCounter {
	v, ok := t.totals.Load(ns)
	if !ok {
		v, _ = t.totals.LoadOrStore(ns, new(usageCounter))
	}
	return v.(*usageCounter)
}

// addLocked adds d to ns's figures in part; part.mu is held.
func (t *usageTable) addLocked(part *usagePart, ns string, d Usage) {
	if d == (Usage{}) {
		return
	}
	u := part.byNS[ns].Add(d)
	if u == (Usage{}) {
		delete(part.byNS, ns)
	} else {
		part.byNS[ns] = u
	}
	c := t.counter(ns)
	c.keys.Add(d.Keys)
	c.bytes.Add(d.Bytes)
}

// add counts a write's delta; the writer holds the partition's fence
// shared.
func (t *usageTable) add(p uint16, ns string, d Usage) {
	if d == (Usage{}) {
		return
	}
	part := &t.parts[p]
	part.mu.Lock()
	defer part.mu.Unlock()
	t.addLocked(part, ns, d)
	if part.since != nil {
		part.since[ns] = part.since[ns].Add(d)
	}
}

// replaceLocked sets ns's figures in part to u; part.mu is held.
func (t *usageTable) replaceLocked(part *usagePart, ns string, u Usage) {
	t.addLocked(part, ns, u.Sub(part.byNS[ns]))
}

// Usage returns what this node's replica holds of a storage namespace.
func (s *Store) Usage(ns string) Usage {
	v, ok := s.usage.totals.Load(ns)
	if !ok {
		return Usage{}
	}
	c := v.(*usageCounter)
	return Usage{Keys: c.keys.Load(), Bytes: c.bytes.Load()}
}

// UsageAll returns what this node's replica holds of every storage
// namespace that holds anything.
func (s *Store) UsageAll() map[string]Usage {
	out := map[string]Usage{}
	s.usage.totals.Range(func(k, v any) bool {
		c := v.(*usageCounter)
		if u := (Usage{Keys: c.keys.Load(), Bytes: c.bytes.Load()}); u != (Usage{}) {
			out[k.(string)] = u
		}
		return true
	})
	return out
}

// RecountUsage counts what partition p holds from storage and makes that
// the partition's figures. Writes go on meanwhile (they wait only while
// the recount takes its snapshot); a range deletion of the partition
// during the recount voids it (the figures stay as the deletion left
// them). Recounts run one at a time.
func (s *Store) RecountUsage(p uint16) error {
	t := s.usage
	t.recountMu.Lock()
	defer t.recountMu.Unlock()
	part := &t.parts[p]
	part.fence.Lock()
	part.mu.Lock()
	part.since = map[string]Usage{}
	gen := part.gen
	part.mu.Unlock()
	lo, hi := keys.PartitionRange(p)
	it, err := s.eng.NewIter(lo, hi)
	part.fence.Unlock()
	end := func() {
		part.mu.Lock()
		part.since = nil
		part.mu.Unlock()
	}
	if err != nil {
		end()
		return fmt.Errorf("replica: recount usage: %w", err)
	}
	counted := map[string]Usage{}
	for ok := it.First(); ok; ok = it.Next() {
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			end()
			return errors.Join(err, it.Close())
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			end()
			return errors.Join(fmt.Errorf("replica: decode %x: %w", it.Key(), err), it.Close())
		}
		if u := UsageOf(key, obj); u != (Usage{}) {
			counted[ns] = counted[ns].Add(u)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		end()
		return fmt.Errorf("replica: recount usage: %w", err)
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	since := part.since
	part.since = nil
	if part.gen != gen {
		return nil
	}
	for ns, d := range since {
		counted[ns] = counted[ns].Add(d)
	}
	for ns := range part.byNS {
		if _, ok := counted[ns]; !ok {
			counted[ns] = Usage{}
		}
	}
	for ns, u := range counted {
		t.replaceLocked(part, ns, u)
	}
	return nil
}

// DropRanges runs del, which deletes data ranges, and takes what they held
// out of the usage figures. A range is a whole partition
// (keys.PartitionRange) or one storage namespace in one partition
// (keys.NamespaceRange); writes to the partitions involved wait while del
// runs. A range of another shape is left to the background recount.
func (s *Store) DropRanges(ranges [][2][]byte, del func() error) error {
	t := s.usage
	var parts []uint16
	for _, r := range ranges {
		if p, ok := rangePartition(r[0]); ok && int(p) < len(t.parts) {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts { // ascending: two droppers cannot deadlock
		t.parts[p].fence.Lock()
	}
	defer func() {
		for _, p := range parts {
			t.parts[p].fence.Unlock()
		}
	}()
	err := del()
	if s.cache != nil { // whether or not del deleted anything (rule 3, cache.go)
		s.cache.dropped()
	}
	if err != nil {
		return err
	}
	for _, r := range ranges {
		p, ok := rangePartition(r[0])
		if !ok || int(p) >= len(t.parts) {
			continue
		}
		part := &t.parts[p]
		part.mu.Lock()
		part.gen++
		if len(r[0]) == 3 { // the whole partition
			for ns := range part.byNS {
				t.replaceLocked(part, ns, Usage{})
			}
		} else if _, ns, _, err := keys.ParseData(r[0]); err == nil {
			t.replaceLocked(part, ns, Usage{})
		}
		part.mu.Unlock()
	}
	return nil
}

// rangePartition is the partition of a data range's lower bound.
func rangePartition(lo []byte) (uint16, bool) {
	full, _ := keys.PartitionRange(0)
	if len(lo) < 3 || lo[0] != full[0] {
		return 0, false
	}
	return binary.BigEndian.Uint16(lo[1:3]), true
}
