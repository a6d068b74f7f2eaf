package peer

import (
	"context"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/keys"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
)

// Transfer streams a partition's objects from node from, in storage-key
// order, after req.Cursor (Local.Transfer): a handoff pulls a partition
// with it, a listing a namespace's part of one. Read it like a storage
// iterator:
//
//	t := c.Transfer(ctx, from, req)
//	defer t.Close()
//	for t.Next() {
//		use(t.Object())
//		resume = t.Cursor()
//	}
//	if err := t.Err(); err != nil { ... }
//
// A transfer that fails can be resumed with a new one from the Cursor of
// the last object used.
func (c *Client) Transfer(ctx context.Context, from string, req TransferRequest) *Transfer {
	t := &Transfer{from: from, partition: req.Partition, cancel: func() {}}
	pc, err := c.client(from)
	if err != nil {
		t.err = err
		return t
	}
	ctx, t.cancel = context.WithCancel(ctx)
	t.stream, t.err = pc.Transfer(ctx, encodeTransfer(req))
	return t
}

// Transfer is the iterator of a [Client.Transfer]. It is not safe for
// concurrent use.
type Transfer struct {
	from      string
	partition uint16
	cancel    context.CancelFunc
	stream    *connect.ServerStreamForClient[peerv1.TransferResponse]
	err       error
	done      bool

	batch     []*peerv1.KeyObject // the objects of the last message received
	next      int                 // index in batch of the object after the current one
	remaining uint64
	obj       Object
	size      int
}

// Next moves to the next object. It returns false at the end of the
// transfer or on an error (see Err).
func (t *Transfer) Next() bool {
	if t.err != nil || t.done {
		return false
	}
	for t.next >= len(t.batch) {
		if !t.stream.Receive() {
			t.err, t.done = t.stream.Err(), true
			return false
		}
		msg := t.stream.Msg()
		t.batch, t.next, t.remaining = msg.GetObjects(), 0, msg.GetRemainingBytes()
	}
	ko := t.batch[t.next]
	t.next++
	obj, err := decodeObject(ko.GetObject())
	if err != nil {
		t.err = malformed(t.from, err)
		return false
	}
	t.obj = Object{Namespace: ko.GetNamespace(), Key: ko.GetKey(), Object: obj}
	t.size = len(ko.GetKey()) + len(ko.GetObject())
	return true
}

// Object is the current object.
func (t *Transfer) Object() Object { return t.obj }

// Cursor resumes a transfer of the same partition after the current object
// (in [TransferRequest]): the object's storage key.
func (t *Transfer) Cursor() []byte { return keys.Data(t.partition, t.obj.Namespace, t.obj.Key) }

// Size is the bytes the current object's key and encoding took on the
// wire.
func (t *Transfer) Size() int { return t.size }

// Remaining is the sending node's estimate of the bytes of the transferred
// range left after the current object's batch.
func (t *Transfer) Remaining() uint64 { return t.remaining }

// Err is the error that ended the transfer, nil at its end. It is what the
// sending node answered (an engine error), or wraps [ErrNoAnswer] when the
// stream broke without an answer.
func (t *Transfer) Err() error { return t.err }

// Close ends the transfer, also before its end, and releases the stream.
func (t *Transfer) Close() {
	t.cancel()
	if t.stream != nil {
		_ = t.stream.Close()
	}
	t.done = true
}
