package storage

import "fmt"

// OpKind is the kind of an [Op].
type OpKind uint8

const (
	// OpSet sets Key to Value.
	OpSet OpKind = iota + 1
	// OpDelete deletes Key.
	OpDelete
	// OpDeleteRange deletes every key in [Key, End).
	OpDeleteRange
)

// String returns the name of the kind.
func (k OpKind) String() string {
	switch k {
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	case OpDeleteRange:
		return "delete-range"
	default:
		return fmt.Sprintf("OpKind(%d)", uint8(k))
	}
}

// Op is one operation of a [Batch]. Its slices belong to the batch.
type Op struct {
	Kind  OpKind
	Key   []byte // the key, or the inclusive start of a range
	Value []byte // OpSet only
	End   []byte // OpDeleteRange only: the exclusive end of the range
}

// Batch is an engine-independent list of operations that [Engine.Apply]
// applies atomically, in order. The zero value is an empty batch ready to
// use. A Batch is not safe for concurrent use.
//
// Set, Delete and DeleteRange copy their arguments into one growing buffer,
// so building a batch allocates little and the caller may reuse its slices.
type Batch struct {
	ops  []Op
	data []byte
}

// Set adds an operation that sets key to value.
func (b *Batch) Set(key, value []byte) {
	k := b.copy(key)
	v := b.copy(value)
	b.ops = append(b.ops, Op{Kind: OpSet, Key: k, Value: v})
}

// Delete adds an operation that deletes key. Deleting an absent key is not an
// error.
func (b *Batch) Delete(key []byte) {
	b.ops = append(b.ops, Op{Kind: OpDelete, Key: b.copy(key)})
}

// DeleteRange adds an operation that deletes every key in [start, end). If
// start >= end the operation deletes nothing.
func (b *Batch) DeleteRange(start, end []byte) {
	s := b.copy(start)
	e := b.copy(end)
	b.ops = append(b.ops, Op{Kind: OpDeleteRange, Key: s, End: e})
}

// Len returns the number of operations in the batch. A nil batch is empty.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return len(b.ops)
}

// Size returns the number of key and value bytes held by the batch.
func (b *Batch) Size() int {
	if b == nil {
		return 0
	}
	return len(b.data)
}

// Ops returns the operations in order. The slice and the bytes it refers to
// belong to the batch and stay valid until the next Reset; callers must not
// modify them.
func (b *Batch) Ops() []Op {
	if b == nil {
		return nil
	}
	return b.ops
}

// Reset empties the batch and keeps its buffers for reuse. Slices obtained
// from Ops before the Reset must no longer be used.
func (b *Batch) Reset() {
	clear(b.ops) // drop references so a reused batch does not pin old buffers
	b.ops = b.ops[:0]
	b.data = b.data[:0]
}

// copy appends p to the buffer and returns the copy, with its capacity capped
// so that appending to it can never overwrite a neighbour. If the buffer
// grows, earlier copies keep pointing into the old array, which is never
// written again.
func (b *Batch) copy(p []byte) []byte {
	start := len(b.data)
	b.data = append(b.data, p...)
	return b.data[start:len(b.data):len(b.data)]
}
