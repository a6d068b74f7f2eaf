// Package coord coordinates quorum reads and writes across the replicas of
// a key: the Dynamo request path. A write is applied at the coordinator
// (which must be in the key's preference list), then sent to the other
// replicas while the coordinator syncs its own; the coordinator answers
// after W acknowledgements (DW durable). An unreachable replica is replaced
// by the next healthy node, which keeps the object as a hint for it
// (sloppy quorum). A read asks the N replicas the same way (a fallback
// answers with the hints it keeps), answers after R replies, and repairs
// stale replicas in the background (read repair).
//
// The package knows the cluster only through [View] and reaches other nodes
// only through [Peers], so tests can run it against fakes and the node can
// run it against gossip and Connect.
//
// The decisions of the request path are a pure core, in the manner of
// etcd-io/raft: a write tracker and a read tracker (tracker*.go) choose the
// node that answers for each replica (the replica itself or the next live
// fallback), count the answers, say when a request is done or failed, and
// which replicas a read repairs. They take every answer, failure and
// timeout as an event and do no IO, start no goroutines and never read the
// clock; [Coordinator.Write] and [Coordinator.Read] make the calls, run the
// timers and feed them. The scenario files in testdata/ are their tests.
package coord

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/replica"
)

// View is the coordinator's picture of the cluster.
type View interface {
	// Self is this node's ID.
	Self() string
	// Replicas returns the preference list of a partition (the first n
	// distinct owners) and, after it, the fallback nodes in ring order.
	Replicas(partition uint16, n int) (pref, fallbacks []string)
	// Alive reports whether gossip believes a node is up.
	Alive(id string) bool
}

// Replication is one object sent to a replica.
type Replication struct {
	Namespace string
	Key       []byte
	Object    dvv.Object
	Sync      bool
	// IntendedOwner is set when the receiver is a fallback keeping a hint.
	IntendedOwner string
}

// Peers reaches the other nodes.
type Peers interface {
	// Replicate sends an object; durable reports that it reached disk.
	Replicate(ctx context.Context, to string, r Replication) (durable bool, err error)
	// Read returns a node's replica of a key (the zero object if none),
	// merged with the hints it keeps for the key when the node is not in
	// the key's preference list (it answers as a fallback).
	Read(ctx context.Context, to, ns string, key []byte) (dvv.Object, error)
}

// AsyncPeers are Peers that can also start a Replicate and return at
// once: done gets its result exactly once, from another goroutine, and
// must not block. A write then hands each peer's copy to the peer's queue
// instead of starting a goroutine per peer that only waits for it.
type AsyncPeers interface {
	Peers
	ReplicateAsync(ctx context.Context, to string, r Replication, done func(durable bool, err error))
}

// Stats are counters since start.
type Stats struct {
	ReadRepairs  atomic.Int64 // objects sent to stale replicas after reads
	HintedWrites atomic.Int64 // writes sent to fallbacks as hints
	ReadHedges   atomic.Int64 // reads that asked more replicas as those asked first were late
}

// Coordinator runs the request path of one node. It is safe for concurrent
// use.
type Coordinator struct {
	local *replica.Store
	view  View
	peers Peers
	async AsyncPeers // peers, when they offer ReplicateAsync; nil otherwise
	opts  Options
	log   *slog.Logger
	bg    sync.WaitGroup
	Stats Stats

	replies replyTimes // how fast each peer answers reads: whom to ask first
}

// New returns a Coordinator over the local replica store. Options come from
// code, not from users, so invalid ones are a programming error: New
// panics if [Options.Validate] fails (as time.NewTicker does on a
// non-positive interval).
func New(local *replica.Store, view View, peers Peers, opts Options) *Coordinator {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts = opts.withDefaults()
	async, _ := peers.(AsyncPeers)
	return &Coordinator{local: local, view: view, peers: peers, async: async, opts: opts, log: opts.Logger}
}

// Wait waits for background repairs and sends to finish (tests, shutdown).
func (c *Coordinator) Wait() { c.bg.Wait() }

// IsCoordinator reports whether this node may coordinate writes of the key
// (it is in the preference list), and otherwise which nodes may, healthy
// ones first.
func (c *Coordinator) IsCoordinator(ns string, key []byte, n int) (bool, []string) {
	pref, _ := c.view.Replicas(c.local.Partition(ns, key), n)
	self := c.view.Self()
	var alive, dead []string
	for _, id := range pref {
		if id == self {
			return true, nil
		}
		if c.view.Alive(id) {
			alive = append(alive, id)
		} else {
			dead = append(dead, id)
		}
	}
	return false, append(alive, dead...)
}

// WriteRequest is a write this node coordinates.
type WriteRequest struct {
	Namespace string
	Key       []byte
	N, W, DW  int
	Sync      bool
	// Apply computes the new object from the coordinator's current one (the
	// DVVSet update and any conditions). It runs under the key's lock.
	Apply func(cur dvv.Object) (dvv.Object, error)
}

// Write applies a write locally, replicates it and waits for the quorum. On
// a QuorumError the write is still applied locally and may reach the others.
// It returns the object and the number of acknowledgements (this node's
// included).
//
// A synced write is applied here unsynced, under the key's lock, and this
// node's WAL sync runs after the lock while the other replicas write: a
// put waits for one fsync and a round trip in parallel, not an fsync and
// then a round trip and another fsync, and writers of a hot key do not
// queue behind each other's fsync. This node's copy acknowledges (durably)
// when its sync returns; one that fails is no acknowledgement, and the
// write fails with its error unless the other replicas make the quorum
// without it. The other replicas sync only as DW needs: the first DW-1 of
// them are sent the write synced, the rest unsynced, and a replica that
// acknowledged unsynced is asked again, synced, when a durable
// acknowledgement counted on fails to come ([writeTracker.upgrades]).
// What is applied before its sync may be read before it is
// durable; it is not acknowledged until then, and a crash that loses it
// loses no acknowledged write (an incarnation's dots are never reissued:
// package actor).
//
// A [writeTracker] decides where each send goes and when the write is
// answered; Write makes the sends and feeds it their results. After the
// answer the sends go on in the background (bounded by RepairTimeout)
// until every replica has the object or a hint for it is kept.
func (c *Coordinator) Write(ctx context.Context, req WriteRequest) (dvv.Object, int, error) {
	// Applied unsynced under the key's lock; a synced write's own sync runs
	// below, after the lock, while the other replicas write.
	obj, err := c.local.Mutate(req.Namespace, req.Key, false, req.Apply)
	if err != nil {
		return dvv.Object{}, 0, err
	}
	pref, fallbacks := c.view.Replicas(c.local.Partition(req.Namespace, req.Key), req.N)
	tr := newWriteTracker(c.replies.fastestFirst(pref), c.view.Self(), fallbacks, req.W, req.DW, req.Sync)

	type sent struct {
		place       string
		self        bool  // the coordinator's own sync
		err         error // the own sync's error
		upgrade     bool  // the answer to tr.upgrades' request to sync
		ok, durable bool
	}
	results := make(chan sent, tr.attempts()+1) // buffered: senders never block
	var syncErr error
	bgCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RepairTimeout)
	// Until Write returns, answers go through results to its goroutine.
	// After, each is stepped by whoever brings it, under mu, and the last
	// one ends the write (no goroutine waits for the rest). c.bg counts
	// the write until then.
	var (
		mu              sync.Mutex
		returned, ended bool
		step            func(sent)
	)
	c.bg.Add(1)
	finish := func() { // under mu, once returned
		if !ended && tr.finished() {
			ended = true
			cancel()
			c.bg.Done()
		}
	}
	post := func(s sent) {
		mu.Lock()
		defer mu.Unlock()
		if !returned {
			results <- s
			return
		}
		step(s)
		finish()
	}
	if req.Sync {
		c.bg.Go(func() { post(sent{self: true, err: c.local.Sync()}) })
	}
	send := func(a attempt) {
		r := Replication{Namespace: req.Namespace, Key: req.Key, Object: obj, Sync: a.sync}
		if a.fallback {
			r.IntendedOwner = a.place // sloppy quorum: the fallback keeps a hint
		}
		deliver := func(durable bool, err error) {
			if err == nil && a.fallback && !a.upgrade {
				c.Stats.HintedWrites.Add(1)
			}
			post(sent{place: a.place, upgrade: a.upgrade, ok: err == nil, durable: err == nil && durable})
		}
		if c.async != nil && !a.local {
			c.async.ReplicateAsync(bgCtx, a.node, r, deliver)
			return
		}
		c.bg.Go(func() {
			if a.local {
				// No fallback left (a cluster of N nodes or fewer): keep the
				// hint here so the replica still gets the write when it is
				// back. It is not another replica, so it is no acknowledgement.
				if err := c.local.StoreHint(a.place, req.Namespace, req.Key, obj, req.Sync); err != nil {
					c.log.Warn("store hint", "owner", a.place, "err", err)
				} else {
					c.Stats.HintedWrites.Add(1)
				}
				post(sent{place: a.place})
				return
			}
			deliver(c.peers.Replicate(bgCtx, a.node, r))
		})
	}
	step = func(s sent) {
		switch {
		case s.self:
			syncErr = s.err
			tr.synced(s.err == nil)
		case s.upgrade:
			tr.upgraded(s.place, s.durable)
		case s.ok:
			tr.ack(s.place, s.durable)
		default:
			if next, ok := tr.fail(s.place, c.view.Alive); ok {
				send(next)
			}
		}
		for _, a := range tr.upgrades() {
			send(a)
		}
	}
	for _, a := range tr.start(c.view.Alive) {
		send(a)
	}
	err = await(ctx, c.timeout(ctx, c.opts.WriteTimeout), results, step, tr.decided, tr.timeout, nil, nil)
	acks := tr.acks
	if err == nil {
		acks, err = tr.result()
	}
	if err != nil && syncErr != nil {
		err = syncErr // the cause: this node's storage failed
	}
	mu.Lock()
	for len(results) > 0 {
		step(<-results)
	}
	returned = true
	finish()
	mu.Unlock()
	return obj, acks, err
}

// Read asks the first n healthy nodes of the key's extended preference
// list, as a write reaches them: each replica, or for one that is down or
// fails, the next healthy fallback in ring order. It answers with the merge
// of the first r replies and repairs stale replicas in the background.
//
// Most reads ask only r of the n places at first: this node's own copy
// when it is a replica, then live replicas, those that have answered
// reads fastest first (replytimes.go). The others are asked when one
// of those fails or has not answered in time (when it is late by its own
// record of reply times, within [Options.ReadHedgeFloor] and
// [Options.ReadHedgeDelay]), and a share [Options.FullReadChance] of
// reads asks all n at once, so read repair still reaches every replica of
// hot keys (anti-entropy reaches the rest). R + W > N holds either way:
// any r places overlap any w.
//
// A fallback answers with its copy merged with the hints it keeps for the
// key ([replica.Store.GetWithHints]), so what a sloppy quorum acknowledged
// a sloppy quorum reads: on the minority side of a partition, keys written
// there can be read there. Fallbacks are never read-repaired: they are
// not replicas, and what they hold reaches the owners by hint delivery.
//
// A [readTracker] decides whom to ask, when the read is answered and which
// replicas to repair; Read makes the calls and feeds it the replies.
func (c *Coordinator) Read(ctx context.Context, ns string, key []byte, n, r int) (dvv.Object, int, error) {
	pref, fallbacks := c.view.Replicas(c.local.Partition(ns, key), n)
	tr := newReadTracker(c.replies.fastestFirst(pref), c.view.Self(), fallbacks, r, c.opts.readAll())

	type reply struct {
		place string
		obj   dvv.Object
		err   error
	}
	replies := make(chan reply, tr.attempts()) // buffered: readers never block on a coordinator that answered
	bgCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RepairTimeout)
	// Peers are asked on goroutines of their own; this node's copy is read
	// on the caller's, after the peers' calls are on their way.
	ask := func(as []attempt) {
		var local []attempt
		for _, a := range as {
			if a.node == c.view.Self() {
				local = append(local, a)
				continue
			}
			c.bg.Go(func() {
				obj, err := c.readFrom(bgCtx, a.node, ns, key, a.fallback)
				replies <- reply{place: a.place, obj: obj, err: err}
			})
		}
		for _, a := range local {
			obj, err := c.readFrom(bgCtx, a.node, ns, key, a.fallback)
			replies <- reply{place: a.place, obj: obj, err: err}
		}
	}
	step := func(rp reply) {
		if rp.err == nil {
			tr.reply(rp.place, rp.obj)
		} else {
			ask(tr.fail(rp.place, c.view.Alive))
		}
	}
	first := tr.start(c.view.Alive)
	var buf [4]string
	asked := buf[:0] // the peers asked first, whose replies the hedge waits for
	for _, a := range first {
		if a.node != c.view.Self() {
			asked = append(asked, a.node)
		}
	}
	ask(first)
	hedge := time.NewTimer(c.replies.hedgeDelay(asked, c.opts.ReadHedgeFloor, c.opts.ReadHedgeDelay))
	defer hedge.Stop()
	err := await(ctx, c.timeout(ctx, c.opts.ReadTimeout), replies, step, tr.decided, tr.timeout,
		hedge.C, func() {
			if more := tr.widen(c.view.Alive); len(more) > 0 {
				c.Stats.ReadHedges.Add(1)
				ask(more)
			}
		})
	var result dvv.Object
	got := len(tr.replies)
	if err == nil {
		result, got, err = tr.result()
	}
	// Read repair: collect the rest in the background, then bring every
	// preference-list replica that answered up to the merge of all answers.
	c.bg.Go(func() {
		defer cancel()
		for !tr.finished() {
			step(<-replies)
		}
		if bgCtx.Err() != nil {
			return // out of time before the last answer: no repair
		}
		merged, stale := tr.repairs()
		for _, id := range stale {
			c.Stats.ReadRepairs.Add(1)
			if c.opts.ReadRepaired != nil {
				c.opts.ReadRepaired(ns)
			}
			if id == c.view.Self() {
				if _, err := c.local.Merge(ns, key, merged, false); err != nil {
					c.log.Warn("read repair failed", "node", id, "err", err)
				}
				continue
			}
			if _, err := c.peers.Replicate(bgCtx, id, Replication{Namespace: ns, Key: key, Object: merged}); err != nil {
				c.log.Debug("read repair failed", "node", id, "err", err)
			}
		}
	})
	return result, got, err
}

// await feeds results to step until decided, and calls expire when the
// time d is up and onHedge when hedge fires (a nil hedge never does). It
// returns ctx's error if ctx ends first.
func await[T any](ctx context.Context, d time.Duration, results <-chan T, step func(T), decided func() bool, expire func(),
	hedge <-chan time.Time, onHedge func()) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for !decided() {
		select {
		case r := <-results:
			step(r)
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			expire()
		case <-hedge:
			onHedge()
		}
	}
	return nil
}

// readFrom reads a key from one node: this node's store or a peer's. A
// fallback (this node) answers with the hints it keeps for the key merged
// in; a peer decides that for itself (it knows whether it is a replica).
func (c *Coordinator) readFrom(ctx context.Context, id, ns string, key []byte, fallback bool) (dvv.Object, error) {
	switch {
	case id != c.view.Self():
		start := time.Now()
		obj, err := c.peers.Read(ctx, id, ns, key)
		if err == nil {
			c.replies.observe(id, time.Since(start))
		}
		return obj, err
	case fallback:
		return c.local.GetWithHints(ns, key)
	default:
		return c.local.Get(ns, key)
	}
}

// timeout is the time left before ctx's deadline, or def without one.
func (c *Coordinator) timeout(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return def
}
