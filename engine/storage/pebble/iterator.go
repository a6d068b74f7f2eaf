package pebble

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/concord-kv/concord/engine/storage"
)

// iterator is a [storage.Iterator] over a Pebble iterator. It is used by one
// goroutine, but the engine's Close may release it from another: mu
// serialises the moves with that release, and dead lets Key and Value
// notice it without locking.
type iterator struct {
	reg   *registry
	fence *fence
	lower []byte

	mu   sync.Mutex
	it   *cpebble.Iterator // nil once released
	dead atomic.Bool       // set before it is released

	// Owned by the iterator's goroutine.
	valid      bool
	key, value []byte
	err        error
	closed     bool
}

// newIter opens an iterator over [lower, upper) of r and registers it.
func newIter(r cpebble.Reader, reg *registry, f *fence, lower, upper []byte) (storage.Iterator, error) {
	if len(lower) == 0 {
		// The empty key is the smallest key, so an empty lower bound is no
		// bound; nil also keeps Pebble away from seeking to an empty key.
		lower = nil
	}
	i := &iterator{reg: reg, fence: f, lower: bytes.Clone(lower)}
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		// Empty range; Pebble wants lower < upper.
		i.closed = true
		return i, nil
	}
	it, err := r.NewIter(&cpebble.IterOptions{LowerBound: i.lower, UpperBound: bytes.Clone(upper)})
	if err != nil {
		return nil, fmt.Errorf("storage/pebble: new iterator: %w", err)
	}
	i.it = it
	if !reg.add(i) {
		_ = it.Close()
		return nil, storage.ErrClosed
	}
	return i, nil
}

// move runs a positioning call of the Pebble iterator under mu and loads the
// current key and value.
func (i *iterator) move(f func(it *cpebble.Iterator) bool) bool {
	i.valid, i.key, i.value = false, nil, nil
	if i.closed {
		return false // a closed iterator or an empty range
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.it == nil {
		i.err = storage.ErrClosed
		return false
	}
	if err := i.fence.failure(); err != nil {
		i.err = err
		return false
	}
	if !f(i.it) {
		i.err = i.it.Error()
		return false
	}
	v, err := i.it.ValueAndErr()
	if err != nil {
		i.err = err
		return false
	}
	i.valid, i.key, i.value = true, i.it.Key(), v
	return true
}

func (i *iterator) First() bool {
	return i.move((*cpebble.Iterator).First)
}

func (i *iterator) SeekGE(key []byte) bool {
	if i.lower != nil && bytes.Compare(key, i.lower) < 0 {
		key = i.lower
	}
	if len(key) == 0 {
		// Seeking to the empty key is First. Pebble v2.1.7 built with
		// -race (invariants on) panics on SeekGE([]byte{}): its
		// testingDisableSeekOpt reads key[0] of any non-nil key.
		return i.First()
	}
	return i.move(func(it *cpebble.Iterator) bool { return it.SeekGE(key) })
}

func (i *iterator) Next() bool {
	if !i.valid {
		return false
	}
	return i.move((*cpebble.Iterator).Next)
}

func (i *iterator) Valid() bool { return i.valid && !i.dead.Load() }

func (i *iterator) Key() []byte {
	if !i.Valid() {
		return nil
	}
	return i.key
}

func (i *iterator) Value() []byte {
	if !i.Valid() {
		return nil
	}
	return i.value
}

func (i *iterator) Error() error { return i.err }

func (i *iterator) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	i.valid, i.key, i.value = false, nil, nil
	err := i.release()
	i.reg.remove(i)
	if i.err != nil && i.err != storage.ErrClosed {
		return i.err
	}
	return err
}

func (i *iterator) forceClose() { _ = i.release() }

// release closes the Pebble iterator once.
func (i *iterator) release() error {
	i.dead.Store(true)
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.it == nil {
		return nil
	}
	err := i.it.Close()
	i.it = nil
	if err != nil {
		return fmt.Errorf("storage/pebble: close iterator: %w", err)
	}
	return nil
}
