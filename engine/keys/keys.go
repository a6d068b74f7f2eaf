// Package keys is the layout of concord's keyspace inside one storage
// engine. It is pure: no IO.
//
// Data keys are laid out as
//
//	'd' | partition (2 bytes, big endian) | namespace | 0x00 | user key
//
// so that one partition is one contiguous range (the unit of handoff) and,
// inside it, one namespace is a contiguous range too. Namespace names never
// contain 0x00 (see [meta.ValidateName]), which makes the separator
// unambiguous. The namespace of a data or hint key is a storage namespace,
// which names one incarnation of a namespace (meta.Namespace.StorageName);
// this package treats it as opaque. Cluster metadata lives under 'm', hints
// under 'h'.
package keys

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zeebo/xxh3"
)

const (
	dataPrefix = 'd'
	metaPrefix = 'm'
	hintPrefix = 'h'
)

// ErrMalformed is returned for a storage key that is not in this layout.
var ErrMalformed = errors.New("keys: malformed key")

// Hash is the 64-bit placement hash of a key: xxh3 of namespace‖0x00‖key.
//
// It hashes the joined bytes in one call: a streaming xxh3.Hasher is over
// a kilobyte of stack, and on the request path, where a key's partition is
// computed several times per request, it grew (and copied) the stacks of
// fresh goroutines: about 3% of a cluster's CPU under a put load
// (docs/performance.md, session 17). The value is the same either way
// (vectors_test.go).
func Hash(namespace string, key []byte) uint64 {
	var buf [hashBuf]byte
	b := buf[:0]
	if n := len(namespace) + 1 + len(key); n > len(buf) {
		b = make([]byte, 0, n)
	}
	b = append(b, namespace...)
	b = append(b, 0)
	b = append(b, key...)
	return xxh3.Hash(b)
}

// hashBuf is the longest namespace‖0x00‖key Hash joins on the stack.
const hashBuf = 192

// Partition maps a key to one of q partitions (q a power of two) by the top
// bits of its hash.
func Partition(namespace string, key []byte, q int) uint16 {
	bits := 0
	for 1<<bits < q {
		bits++
	}
	if bits == 0 {
		return 0
	}
	return uint16(Hash(namespace, key) >> (64 - bits))
}

// Data is the storage key of a user key.
func Data(partition uint16, namespace string, key []byte) []byte {
	b := make([]byte, 0, 3+len(namespace)+1+len(key))
	b = append(b, dataPrefix)
	b = binary.BigEndian.AppendUint16(b, partition)
	b = append(b, namespace...)
	b = append(b, 0)
	return append(b, key...)
}

// ParseData splits a data key into its parts. The returned key aliases k.
func ParseData(k []byte) (partition uint16, namespace string, key []byte, err error) {
	if len(k) < 4 || k[0] != dataPrefix {
		return 0, "", nil, fmt.Errorf("%w: %x", ErrMalformed, k)
	}
	partition = binary.BigEndian.Uint16(k[1:3])
	rest := k[3:]
	for i, c := range rest {
		if c == 0 {
			return partition, string(rest[:i]), rest[i+1:], nil
		}
	}
	return 0, "", nil, fmt.Errorf("%w: no namespace separator", ErrMalformed)
}

// NamespaceRange is the range [lower, upper) holding a namespace's keys in
// one partition.
func NamespaceRange(partition uint16, namespace string) (lower, upper []byte) {
	lower = Data(partition, namespace, nil)
	upper = append(Data(partition, namespace, nil)[:len(lower)-1], 1)
	return lower, upper
}

// PartitionRange is the range [lower, upper) holding all of a partition.
func PartitionRange(partition uint16) (lower, upper []byte) {
	lower = binary.BigEndian.AppendUint16([]byte{dataPrefix}, partition)
	if partition == 0xffff {
		return lower, []byte{dataPrefix + 1}
	}
	return lower, binary.BigEndian.AppendUint16([]byte{dataPrefix}, partition+1)
}

// Meta is the storage key of a cluster metadata document.
func Meta(kind, name string) []byte {
	b := make([]byte, 0, 2+len(kind)+len(name))
	b = append(b, metaPrefix)
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, name...)
}

// MetaRange is the range [lower, upper) of all metadata documents of a kind.
func MetaRange(kind string) (lower, upper []byte) {
	lower = Meta(kind, "")
	upper = append(append([]byte{metaPrefix}, kind...), 1)
	return lower, upper
}

// PrefixEnd is the smallest key greater than every key with prefix p, or
// nil when there is none (p is all 0xff).
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Hint is the storage key of a hint: an object a fallback node keeps for an
// owner that could not take the write.
//
//	'h' | owner | 0x00 | namespace | 0x00 | user key
func Hint(owner, namespace string, key []byte) []byte {
	b := make([]byte, 0, 1+len(owner)+1+len(namespace)+1+len(key))
	b = append(b, hintPrefix)
	b = append(b, owner...)
	b = append(b, 0)
	b = append(b, namespace...)
	b = append(b, 0)
	return append(b, key...)
}

// ParseHint splits a hint key. The returned key aliases k.
func ParseHint(k []byte) (owner, namespace string, key []byte, err error) {
	if len(k) < 3 || k[0] != hintPrefix {
		return "", "", nil, fmt.Errorf("%w: %x", ErrMalformed, k)
	}
	rest := k[1:]
	var parts [2]string
	for i := range parts {
		j := indexByte(rest, 0)
		if j < 0 {
			return "", "", nil, fmt.Errorf("%w: hint key without separators", ErrMalformed)
		}
		parts[i], rest = string(rest[:j]), rest[j+1:]
	}
	return parts[0], parts[1], rest, nil
}

// HintRange is the range [lower, upper) of all hints for owner; with an
// empty owner, of all hints.
func HintRange(owner string) (lower, upper []byte) {
	if owner == "" {
		return []byte{hintPrefix}, []byte{hintPrefix + 1}
	}
	lower = append(append([]byte{hintPrefix}, owner...), 0)
	upper = append(append([]byte{hintPrefix}, owner...), 1)
	return lower, upper
}

// HintNamespaceEnd is the storage key just after every hint of one
// namespace kept for owner: the start of the next namespace's.
func HintNamespaceEnd(owner, namespace string) []byte {
	b := make([]byte, 0, 1+len(owner)+1+len(namespace)+1)
	b = append(b, hintPrefix)
	b = append(b, owner...)
	b = append(b, 0)
	b = append(b, namespace...)
	return append(b, 1)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
