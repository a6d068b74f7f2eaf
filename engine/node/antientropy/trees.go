// Package antientropy keeps a node's anti-entropy trees and runs its side
// of the exchanges: [Trees] holds one [tictac.Tree] per partition, kept
// current by the replica store's observer on every write and built once
// at start; [Service] runs an [aae.Scheduler] over the partitions this
// node replicates, exchanging each with the replicas whose IDs are larger,
// paced by a token bucket, skipping ticks while foreground work is heavy,
// and leaving a partition's replicas alone while a handoff moves it
// ([handoff.Moving]).
//
// The service reaches other nodes only through [Peers] (a subset of
// *peer.Client) and finds placement through [Topology], so it is tested
// with fakes.
package antientropy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage"
)

// Trees are the anti-entropy trees of every partition of one node's store.
// Observe runs under the replica store's key locks; the trees themselves
// are safe for concurrent use.
type Trees struct {
	store storage.Reader
	t     []*tictac.Tree
}

// NewTrees returns empty trees for q partitions over store.
func NewTrees(store storage.Reader, q int) *Trees {
	t := &Trees{store: store, t: make([]*tictac.Tree, q)}
	for p := range t.t {
		t.t[p] = tictac.New(tictac.DefaultSegments)
	}
	return t
}

// Observe is the replica store's observer (replica.Observer).
func (t *Trees) Observe(p uint16, nsKey, old, new []byte) { t.t[p].Update(nsKey, old, new) }

// Build computes the trees from a scan of the stored data, at start before
// any write.
func (t *Trees) Build() error {
	lo, _ := keys.PartitionRange(0)
	_, hi := keys.PartitionRange(uint16(len(t.t) - 1))
	return ScanRange(t.store, lo, hi, func(k, v []byte) {
		t.t[binary.BigEndian.Uint16(k[1:3])].Update(k[3:], nil, v)
	})
}

// Forget takes the keys of a data range out of the trees, before the
// caller deletes the range, and returns the partitions that had keys in
// it, ascending.
func (t *Trees) Forget(lo, hi []byte) ([]uint16, error) {
	var parts []uint16
	err := ScanRange(t.store, lo, hi, func(k, v []byte) {
		p := binary.BigEndian.Uint16(k[1:3])
		t.t[p].Update(k[3:], v, nil)
		if len(parts) == 0 || parts[len(parts)-1] != p {
			parts = append(parts, p)
		}
	})
	return parts, err
}

// Tree returns the segment hashes of a partition's tree (peer.Local's
// Tree).
func (t *Trees) Tree(p uint16) ([]uint64, error) {
	if int(p) >= len(t.t) {
		return nil, errs.Invalid("partition", "partition %d is out of range", p)
	}
	return t.t[p].Segments(), nil
}

// Segment returns every object of a partition in the given segments
// (peer.Local's Segment).
func (t *Trees) Segment(ctx context.Context, p uint16, segments []uint32) ([]peer.Object, error) {
	if int(p) >= len(t.t) {
		return nil, errs.Invalid("partition", "partition %d is out of range", p)
	}
	segs := make([]int, len(segments))
	for i, s := range segments {
		segs[i] = int(s)
	}
	return t.objects(ctx, p, segs)
}

func (t *Trees) objects(ctx context.Context, p uint16, segments []int) ([]peer.Object, error) {
	want := map[int]bool{}
	for _, s := range segments {
		want[s] = true
	}
	lo, hi := keys.PartitionRange(p)
	it, err := t.store.NewIter(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	tree := t.t[p]
	var out []peer.Object
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !want[tree.SegmentOf(it.Key()[3:])] {
			continue
		}
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			return nil, err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return nil, fmt.Errorf("antientropy: decode %x: %w", it.Key(), err)
		}
		out = append(out, peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj})
	}
	return out, it.Error()
}

// ScanRange calls fn with every key and value of a range of store.
func ScanRange(store storage.Reader, lo, hi []byte, fn func(k, v []byte)) error {
	it, err := store.NewIter(lo, hi)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		fn(it.Key(), it.Value())
	}
	return errors.Join(it.Error(), it.Close())
}
