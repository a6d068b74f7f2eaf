package memory

import (
	"bytes"
	"sync/atomic"

	"github.com/tidwall/btree"

	"github.com/concord-kv/concord/engine/storage"
)

// iterator walks a frozen copy of the tree within [lower, upper).
type iterator struct {
	it           btree.IterG[item]
	lower, upper []byte
	// engineClosed and snapClosed (nil for engine iterators) make the
	// iterator fail with storage.ErrClosed once its source is closed.
	engineClosed, snapClosed *atomic.Bool

	valid  bool
	err    error
	closed bool
}

func newIter(t *tree, engineClosed, snapClosed *atomic.Bool, lower, upper []byte) *iterator {
	return &iterator{
		it:           t.Iter(),
		lower:        bytes.Clone(lower),
		upper:        bytes.Clone(upper),
		engineClosed: engineClosed,
		snapClosed:   snapClosed,
	}
}

// check reports whether the iterator may move, recording ErrClosed if not.
func (i *iterator) check() bool {
	switch {
	case i.closed, i.engineClosed.Load(), i.snapClosed != nil && i.snapClosed.Load():
		i.err = storage.ErrClosed
		i.valid = false
		return false
	}
	return i.err == nil
}

// settle sets validity from the btree iterator's answer and the upper bound.
func (i *iterator) settle(ok bool) bool {
	i.valid = ok && (i.upper == nil || bytes.Compare(i.it.Item().key, i.upper) < 0)
	return i.valid
}

func (i *iterator) First() bool {
	if !i.check() {
		return false
	}
	if i.lower == nil {
		return i.settle(i.it.First())
	}
	return i.settle(i.it.Seek(item{key: i.lower}))
}

func (i *iterator) SeekGE(key []byte) bool {
	if !i.check() {
		return false
	}
	if i.lower != nil && bytes.Compare(key, i.lower) < 0 {
		key = i.lower
	}
	return i.settle(i.it.Seek(item{key: key}))
}

func (i *iterator) Next() bool {
	if !i.check() || !i.valid {
		return false
	}
	return i.settle(i.it.Next())
}

func (i *iterator) Valid() bool { return i.valid }

func (i *iterator) Key() []byte {
	if !i.valid {
		return nil
	}
	return i.it.Item().key
}

func (i *iterator) Value() []byte {
	if !i.valid {
		return nil
	}
	return i.it.Item().value
}

func (i *iterator) Error() error { return i.err }

func (i *iterator) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	i.valid = false
	i.it.Release()
	err := i.err
	if err == storage.ErrClosed {
		err = nil // closing an iterator of a closed source is not an error
	}
	return err
}
