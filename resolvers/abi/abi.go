package abi

import "strconv"

// Version is the version byte at the start of every input frame of ABI v1.
const Version = 1

// MarkerName is the name of the export (function or global) that marks a
// module as implementing ABI v1.
const MarkerName = "concord_abi_v1"

// MaxNamespaceLen is the longest namespace an input frame can carry (its
// length is a u16).
const MaxNamespaceLen = 1<<16 - 1

// FlagTombstone is bit 0 of a sibling's flags byte.
const FlagTombstone = 1 << 0

// Sibling is one concurrent version of a key, as the guest sees it.
type Sibling struct {
	// Value is the stored value; empty for a tombstone.
	Value []byte
	// Tombstone marks a causal delete.
	Tombstone bool
	// Timestamp is the coordinator's wall clock at write time, in Unix
	// nanoseconds. It is informational (last-writer-wins uses it) and is not
	// a causal order.
	Timestamp int64
}

// Input is what a resolve call receives: the siblings of one key.
type Input struct {
	Namespace string
	Key       []byte
	Siblings  []Sibling
}

// Status is the i32 a guest's resolve function returns.
type Status int32

// Status values of ABI v1. Any other value is a protocol violation, which the
// host treats like [StatusError] (siblings kept) and counts separately.
const (
	// StatusOK: the output written with output_write is the merged value.
	StatusOK Status = 0
	// StatusDelete: the merge is a tombstone; output is ignored.
	StatusDelete Status = 1
	// StatusDefer: the guest declines to merge; siblings are kept as they are.
	StatusDefer Status = 2
	// StatusError: the guest failed; siblings are kept, the failure is
	// counted and logged.
	StatusError Status = 3
)

// Valid reports whether s is one of the four statuses of ABI v1.
func (s Status) Valid() bool { return s >= StatusOK && s <= StatusError }

// String returns the ABI name of s ("OK", "DELETE", "DEFER", "ERROR"), or
// "Status(n)" for an unknown value.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusDelete:
		return "DELETE"
	case StatusDefer:
		return "DEFER"
	case StatusError:
		return "ERROR"
	}
	return "Status(" + strconv.FormatInt(int64(s), 10) + ")"
}
