package storage

import "errors"

var (
	// ErrNotFound is returned by [Reader.Get] when the key is absent.
	ErrNotFound = errors.New("storage: not found")
	// ErrClosed is returned by every operation on a closed engine, snapshot
	// or iterator. Test for it with errors.Is.
	ErrClosed = errors.New("storage: closed")
	// ErrFailed is returned by every operation of an engine after a write
	// failed at the disk (its log could not be written or synced): the
	// failed write was not acknowledged, and since the engine can no longer
	// tell what it holds from what is durable, it serves nothing more until
	// it is reopened. Test for it with errors.Is.
	ErrFailed = errors.New("storage: failed")
)

// WriteOptions control how [Engine.Apply] persists a batch.
type WriteOptions struct {
	// Sync makes the batch durable before Apply returns. Concurrent synced
	// writes share one fsync (group commit). Without Sync a batch survives a
	// process crash but may be lost by a machine crash.
	Sync bool
}

// Reader reads a consistent ordered key space.
type Reader interface {
	// Get returns a copy of the value of key, owned by the caller, or
	// ErrNotFound if the key is absent. An empty value is returned as a
	// non-nil empty slice.
	Get(key []byte) ([]byte, error)
	// NewIter returns an unpositioned iterator over the keys in
	// [lower, upper), ordered by bytes.Compare. A nil bound is unbounded;
	// an empty non-nil upper bound, or lower >= upper, is an empty range.
	// The iterator reads a consistent view as of its creation: later writes
	// are invisible to it. The caller must Close the iterator.
	NewIter(lower, upper []byte) (Iterator, error)
}

// Iterator walks keys in ascending order. It is not safe for concurrent use.
// A new iterator is unpositioned: call First or SeekGE before Key and Value.
type Iterator interface {
	// First moves to the first key within the bounds and reports whether
	// the iterator is valid.
	First() bool
	// SeekGE moves to the first key >= key within the bounds (a key below
	// the lower bound seeks to the lower bound) and reports whether the
	// iterator is valid.
	SeekGE(key []byte) bool
	// Next moves to the next key and reports whether the iterator is valid.
	Next() bool
	// Valid reports whether the iterator is positioned at a key.
	Valid() bool
	// Key returns the current key. It is valid until the next move.
	Key() []byte
	// Value returns the current value. It is valid until the next move.
	Value() []byte
	// Error returns the error, if any, that made the iterator invalid.
	Error() error
	// Close releases the iterator and returns its error, if any. Closing
	// twice is allowed.
	Close() error
}

// Snapshot is a consistent point-in-time view of an engine: writes applied
// after it was taken are invisible to it. It is safe for concurrent use.
// Iterators of a snapshot must be closed before the snapshot.
type Snapshot interface {
	Reader
	// Close releases the snapshot. Closing twice is allowed.
	Close() error
}

// Failer is an engine that tells cheaply whether it has failed: after a
// failure (a write the disk refused) every operation fails with ErrFailed,
// and Failure returns that error. A cache in front of the engine asks
// before it answers, so that a failed node serves nothing.
type Failer interface {
	Failure() error
}

// Engine is an ordered, durable key-value store. It is safe for concurrent
// use.
type Engine interface {
	Reader
	// Apply applies every operation of b atomically, in order. The engine
	// does not retain b: the caller may Reset and reuse it after Apply
	// returns. A synced Apply returns nil only once the batch is durable; if
	// the disk fails it returns an error wrapping ErrFailed, and the batch
	// may or may not be found after a restart.
	Apply(b *Batch, opts WriteOptions) error
	// Sync makes every batch applied before it durable, as a synced Apply
	// would have: a receiver of many objects applies them unsynced, then
	// syncs once. Errors are as for a synced Apply.
	Sync() error
	// NewSnapshot returns a consistent view of the current state.
	NewSnapshot() (Snapshot, error)
	// Close flushes and releases the engine. It closes every open snapshot
	// and iterator of the engine, which then report ErrClosed. A second
	// Close returns ErrClosed.
	Close() error
}
