// Package tictac is the TicTac Merkle tree of active anti-entropy, in the
// style of Riak's (M. Sayers, "kv_index_tictactree"): per partition and
// replica, a fixed number of segments (1024 by default), each the XOR of
// h(key, object) over the keys that hash into it ([SegmentOf], [Hash]).
//
// XOR makes the tree independent of the order of the writes and lets it
// change incrementally: a write of key k from object o to o' XORs the
// segment of k with h(k, o) ^ h(k, o') ([Tree.Update]). There is no
// periodic rebuild, no scan on the write path and no lock: replicas holding
// the same objects have the same segments, whatever order the writes
// reached them in. The objects are hashed in their canonical encoding
// ([github.com/concord-kv/concord/engine/dvv.Object.MarshalBinary]), so
// equal objects hash alike on every replica. Two trees are compared with
// [Root] and [Diff].
//
// With 64-bit hashes, the chance that a divergence goes unseen (a hash
// collision, or changes cancelling out under XOR in one segment) is about
// 2^-64 per segment per exchange: negligible next to hardware errors.
//
// The package is pure: no IO, no clock, no goroutines, and nothing of the
// project. Package aae compares the trees of two replicas and repairs the
// keys of the segments that differ; the node keeps one tree per partition
// and updates it from the replica store's write path.
package tictac

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"
)

// DefaultSegments is the number of segments of a [Tree] made by New(0).
const DefaultSegments = 1024

// MaxSegments is the largest number of segments a [Tree] may have.
const MaxSegments = 1 << 20

// segmentSeed seeds the hash that places a key in a segment. The partition of
// a key comes from the top bits of the unseeded xxh3 of the same bytes
// (package keys), so a seeded hash spreads the keys of one partition over
// every segment instead of a few.
const segmentSeed = 0x7a1c_7ac0_aae5_e6d1

// Tree is the TicTac Merkle tree of one partition on one replica: a fixed
// number of segments, each the XOR of h(key, object) over the keys that fall
// in it (see [Tree.Update]).
//
// A Tree is safe for concurrent use: Update changes one segment with an
// atomic compare-and-swap, so writers of different keys never wait on each
// other. [Tree.Segments] reads the segments one by one, so a snapshot taken
// during writes may mix states; anti-entropy tolerates that (a segment that
// looks different is compared key by key, one that looks equal is compared
// again next round).
type Tree struct {
	segs []atomic.Uint64
	bits int // log2(len(segs))
}

// New returns an empty tree (every segment 0) with the given number of
// segments, a power of two between 1 and [MaxSegments]; 0 means
// [DefaultSegments]. It panics on any other value: the segment count is a
// constant of the cluster, not an input.
func New(segments int) *Tree {
	if segments == 0 {
		segments = DefaultSegments
	}
	if segments < 1 || segments > MaxSegments || segments&(segments-1) != 0 {
		panic("tictac: New: segments must be a power of two in [1, MaxSegments]")
	}
	return &Tree{segs: make([]atomic.Uint64, segments), bits: bits.TrailingZeros(uint(segments))}
}

// Len returns the number of segments of t.
func (t *Tree) Len() int { return len(t.segs) }

// SegmentOf returns the segment of t that holds key, as [SegmentOf].
func (t *Tree) SegmentOf(key []byte) int { return segmentOf(key, t.bits) }

// SegmentOf returns the segment that holds key in a tree of the given number
// of segments (a power of two). key is the per-partition key, namespace ‖
// 0x00 ‖ user key. A replica uses it to pick the keys of the segments it is
// asked for.
func SegmentOf(key []byte, segments int) int {
	return segmentOf(key, bits.TrailingZeros(uint(segments)))
}

func segmentOf(key []byte, b int) int {
	if b == 0 {
		return 0
	}
	return int(xxh3.HashSeed(key, segmentSeed) >> (64 - b))
}

// Update records that the object of key changed from oldObj to newObj: the
// segment of key is XORed with h(key, oldObj) ^ h(key, newObj). A nil or
// empty object means the key is absent (h = 0), so Update(key, nil, obj)
// adds a key, Update(key, obj, nil) removes it (a purge; a delete is a
// tombstone object like any other), and Update(key, obj, obj) does nothing.
//
// The objects must be the exact bytes stored for the key, in the canonical
// encoding of dvv.Object.MarshalBinary: two replicas holding equal objects
// then add equal hashes. Because XOR is commutative and its own inverse, the
// segments depend only on the final set of (key, object) pairs, never on the
// order of the updates that led there, so the tree never needs a rebuild
// while the caller applies every change to it exactly once.
func (t *Tree) Update(key, oldObj, newObj []byte) {
	delta := Hash(key, oldObj) ^ Hash(key, newObj)
	if delta == 0 {
		return
	}
	s := &t.segs[t.SegmentOf(key)]
	for {
		old := s.Load()
		if s.CompareAndSwap(old, old^delta) {
			return
		}
	}
}

// Segments returns a copy of the segment hashes of t.
func (t *Tree) Segments() []uint64 {
	out := make([]uint64, len(t.segs))
	for i := range t.segs {
		out[i] = t.segs[i].Load()
	}
	return out
}

// Root returns a hash of all the segments of t (see [Root]): two trees with
// equal roots hold, with overwhelming probability, the same data.
func (t *Tree) Root() uint64 { return Root(t.Segments()) }

// Equal reports whether t and u have the same segments.
func (t *Tree) Equal(u *Tree) bool { return slices.Equal(t.Segments(), u.Segments()) }

// Root returns the xxh3 hash of the segments, each encoded as 8 bytes little
// endian, so that replicas can compare a partition with one number before
// they compare its segments.
func Root(segments []uint64) uint64 {
	b := make([]byte, 0, 8*len(segments))
	for _, s := range segments {
		b = binary.LittleEndian.AppendUint64(b, s)
	}
	return xxh3.Hash(b)
}

// Diff returns the indexes, ascending, of the segments that differ between a
// and b. When the lengths differ the trees are not comparable and every
// index below the longer length is returned.
func Diff(a, b []uint64) []int {
	if len(a) != len(b) {
		out := make([]int, max(len(a), len(b)))
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := range a {
		if a[i] != b[i] {
			out = append(out, i)
		}
	}
	return out
}

// smallHash is the size of the stack buffer Hash uses for small inputs:
// one-shot hashing is faster than streaming.
const smallHash = 512

// hashers recycles the streaming hashers of Hash, which are too large to
// allocate on every write.
var hashers = sync.Pool{New: func() any { return xxh3.New() }}

// Hash is h(key, obj), the contribution of one key to its segment: xxh3 of
// uvarint(len(key)) ‖ key ‖ obj, or 0 when obj is empty (the key is absent).
// The length prefix keeps (key, obj) pairs that concatenate to the same bytes
// apart.
//
// With 64-bit hashes, the chance that a divergence goes unseen, because two
// different objects hash alike or because the changes in one segment cancel
// out under XOR, is about 2^-64 per segment and exchange: negligible next to
// disk and memory errors.
func Hash(key, obj []byte) uint64 {
	if len(obj) == 0 {
		return 0
	}
	if len(key)+len(obj) <= smallHash-binary.MaxVarintLen64 {
		var buf [smallHash]byte
		b := binary.AppendUvarint(buf[:0], uint64(len(key)))
		b = append(b, key...)
		return xxh3.Hash(append(b, obj...))
	}
	var prefix [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(prefix[:], uint64(len(key)))
	h := hashers.Get().(*xxh3.Hasher)
	h.Reset()
	_, _ = h.Write(prefix[:n])
	_, _ = h.Write(key)
	_, _ = h.Write(obj)
	sum := h.Sum64()
	hashers.Put(h)
	return sum
}
