package memory

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/tidwall/btree"

	"github.com/concord-kv/concord/engine/storage"
)

// item is one key and its value. Both are owned by the tree and never
// modified after insertion.
type item struct {
	key, value []byte
}

func less(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

type tree = btree.BTreeG[item]

// Engine is an in-memory [storage.Engine]. It is safe for concurrent use.
type Engine struct {
	closed atomic.Bool

	mu   sync.RWMutex
	tree *tree // nil once closed
}

var _ storage.Engine = (*Engine)(nil)

// New returns an empty engine.
func New() *Engine {
	// The engine's own lock guards the tree, so the tree's is disabled.
	return &Engine{tree: btree.NewBTreeGOptions(less, btree.Options{NoLocks: true})}
}

// Get implements [storage.Reader].
func (e *Engine) Get(key []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.tree == nil {
		return nil, storage.ErrClosed
	}
	return get(e.tree, key)
}

// NewIter implements [storage.Reader]. The iterator reads an O(1)
// copy-on-write copy of the tree, so it sees the state at its creation.
func (e *Engine) NewIter(lower, upper []byte) (storage.Iterator, error) {
	t, err := e.copyTree()
	if err != nil {
		return nil, err
	}
	return newIter(t, &e.closed, nil, lower, upper), nil
}

// NewSnapshot implements [storage.Engine].
func (e *Engine) NewSnapshot() (storage.Snapshot, error) {
	t, err := e.copyTree()
	if err != nil {
		return nil, err
	}
	return &snapshot{tree: t, engineClosed: &e.closed}, nil
}

// Sync implements [storage.Engine]; memory is never durable, and nothing
// is left to do.
func (e *Engine) Sync() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tree == nil {
		return storage.ErrClosed
	}
	return nil
}

// Apply implements [storage.Engine]. Operations cannot fail half-way, and
// readers are excluded while they run, so the batch is atomic.
func (e *Engine) Apply(b *storage.Batch, _ storage.WriteOptions) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tree == nil {
		return storage.ErrClosed
	}
	for _, op := range b.Ops() {
		switch op.Kind {
		case storage.OpSet:
			// The batch may be reused by the caller: keep copies.
			e.tree.Set(item{key: bytes.Clone(op.Key), value: bytes.Clone(op.Value)})
		case storage.OpDelete:
			e.tree.Delete(item{key: op.Key})
		case storage.OpDeleteRange:
			e.deleteRange(op.Key, op.End)
		}
	}
	return nil
}

// deleteRange deletes [start, end). The caller holds e.mu.
func (e *Engine) deleteRange(start, end []byte) {
	if bytes.Compare(start, end) >= 0 {
		return
	}
	var doomed []item
	e.tree.Ascend(item{key: start}, func(it item) bool {
		if bytes.Compare(it.key, end) >= 0 {
			return false
		}
		doomed = append(doomed, it)
		return true
	})
	for _, it := range doomed {
		e.tree.Delete(it)
	}
}

// Len returns the number of keys in the engine, or 0 once it is closed.
func (e *Engine) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.tree == nil {
		return 0
	}
	return e.tree.Len()
}

// Close implements [storage.Engine]. It releases the tree; snapshots and
// iterators of the engine report [storage.ErrClosed] from then on.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tree == nil {
		return storage.ErrClosed
	}
	e.tree = nil
	e.closed.Store(true)
	return nil
}

// copyTree returns a copy-on-write copy of the tree. Copying changes the
// tree's identity, so it needs the write lock, but costs O(1).
func (e *Engine) copyTree() (*tree, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tree == nil {
		return nil, storage.ErrClosed
	}
	return e.tree.Copy(), nil
}

func get(t *tree, key []byte) ([]byte, error) {
	it, ok := t.Get(item{key: key})
	if !ok {
		return nil, storage.ErrNotFound
	}
	return append([]byte{}, it.value...), nil
}

// snapshot is a frozen copy of the tree. Nothing writes to a copy, so reads
// need no lock.
type snapshot struct {
	tree         *tree
	engineClosed *atomic.Bool
	closed       atomic.Bool
}

func (s *snapshot) err() error {
	if s.closed.Load() || s.engineClosed.Load() {
		return storage.ErrClosed
	}
	return nil
}

func (s *snapshot) Get(key []byte) ([]byte, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return get(s.tree, key)
}

func (s *snapshot) NewIter(lower, upper []byte) (storage.Iterator, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return newIter(s.tree, s.engineClosed, &s.closed, lower, upper), nil
}

func (s *snapshot) Close() error {
	s.closed.Store(true)
	return nil
}
