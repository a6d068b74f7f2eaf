package peer

import (
	"context"
	"errors"
	"sync"
	"time"

	peerv1 "github.com/concord-kv/concord/proto/gen/concord/peer/v1"
	"github.com/concord-kv/concord/proto/gen/concord/peer/v1/peerv1connect"
)

// Replication coalescing. Under load a node sends many small Replicate
// calls to each peer at once, one per write it coordinates; each costs an
// HTTP request, a handful of syscalls on both sides and, when synced, a
// WAL sync on the receiver. Calls to the same peer with the same sync flag
// and intended owner therefore share requests: while [sendersPerQueue]
// requests are in flight, new calls wait in a queue, and the next request
// carries every call waiting (up to [batchBytes]); the receiver merges
// them and syncs once. An idle queue sends at once, so a lone call waits
// for nothing.
//
// A request of several calls that fails with an error the receiver
// answered (not [ErrNoAnswer]) is sent again call by call, so one call's
// bad object cannot fail another's.

// sendersPerQueue is how many requests a queue keeps in flight.
const sendersPerQueue = 2

// noDeadline bounds a coalesced request when a call in it has no deadline.
const noDeadline = time.Minute

type queueKey struct {
	addr  string
	sync  bool
	owner string
}

type replicateQueue struct {
	waiting []*replicateCall
	senders int
}

// replicateCall is one Replicate call waiting in a queue.
type replicateCall struct {
	objs     []*peerv1.KeyObject
	size     int
	deadline time.Time // zero: none
	done     chan replicateResult
}

type replicateResult struct {
	durable bool
	err     error
}

type coalescer struct {
	mu     sync.Mutex
	queues map[queueKey]*replicateQueue
}

// replicateCoalesced sends objs (at most batchBytes of them) through the queue of
// key, and waits for the answer or for ctx.
func (c *Client) replicateCoalesced(ctx context.Context, pc peerv1connect.PeerServiceClient, key queueKey, objs []*peerv1.KeyObject) (bool, error) {
	call := &replicateCall{objs: objs, size: objectsSize(objs), done: make(chan replicateResult, 1)}
	call.deadline, _ = ctx.Deadline()
	c.co.mu.Lock()
	if c.co.queues == nil {
		c.co.queues = map[queueKey]*replicateQueue{}
	}
	q := c.co.queues[key]
	if q == nil {
		q = &replicateQueue{}
		c.co.queues[key] = q
	}
	q.waiting = append(q.waiting, call)
	start := q.senders < sendersPerQueue
	if start {
		q.senders++
	}
	c.co.mu.Unlock()
	if start {
		go c.drain(pc, key, q)
	}
	select {
	case r := <-call.done:
		return r.durable, r.err
	case <-ctx.Done():
		return false, ctx.Err() // the objects may still be sent: merges are idempotent
	}
}

// drain sends the calls waiting in q until none is left.
func (c *Client) drain(pc peerv1connect.PeerServiceClient, key queueKey, q *replicateQueue) {
	for {
		c.co.mu.Lock()
		if len(q.waiting) == 0 {
			q.senders--
			if q.senders == 0 {
				delete(c.co.queues, key)
			}
			c.co.mu.Unlock()
			return
		}
		n, size := 1, q.waiting[0].size
		for n < len(q.waiting) && size+q.waiting[n].size <= batchBytes {
			size += q.waiting[n].size
			n++
		}
		calls := q.waiting[:n:n]
		q.waiting = q.waiting[n:]
		c.co.mu.Unlock()
		c.send(pc, key, calls)
	}
}

// send makes one request of calls and answers each.
func (c *Client) send(pc peerv1connect.PeerServiceClient, key queueKey, calls []*replicateCall) {
	var objs []*peerv1.KeyObject
	for _, call := range calls {
		objs = append(objs, call.objs...)
	}
	durable, err := c.replicateOnce(pc, key, objs, latest(calls))
	if err != nil && len(calls) > 1 && !errors.Is(err, ErrNoAnswer) {
		for _, call := range calls {
			d, err := c.replicateOnce(pc, key, call.objs, latest([]*replicateCall{call}))
			call.done <- replicateResult{d, err}
		}
		return
	}
	for _, call := range calls {
		call.done <- replicateResult{durable, err}
	}
}

func (c *Client) replicateOnce(pc peerv1connect.PeerServiceClient, key queueKey, objs []*peerv1.KeyObject, deadline time.Time) (bool, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	res, err := pc.Replicate(ctx, &peerv1.ReplicateRequest{From: c.self, Objects: objs, Sync: key.sync, IntendedOwner: key.owner})
	if err != nil {
		return false, err
	}
	return res.GetDurable(), nil
}

// latest is the latest deadline of calls, or noDeadline from now when one
// of them has none.
func latest(calls []*replicateCall) time.Time {
	var d time.Time
	for _, c := range calls {
		if c.deadline.IsZero() {
			return time.Now().Add(noDeadline)
		}
		if c.deadline.After(d) {
			d = c.deadline
		}
	}
	return d
}

func objectsSize(objs []*peerv1.KeyObject) int {
	n := 0
	for _, ko := range objs {
		n += len(ko.Namespace) + len(ko.Key) + len(ko.Object)
	}
	return n
}
