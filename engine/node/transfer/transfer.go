// Package transfer moves partitions in a ring change. A [Receiver] pulls
// the partitions this node gains from an old replica (engine/handoff's
// [handoff.Fetch] decides where from, and keeps the progress), merging
// every object and storing its cursor after every batch, so a transfer
// interrupted by a crash resumes where it stopped; it publishes its
// progress, and once every transfer of the change is done it drops the
// partitions this node gave up. [Serve] is the sending side: a
// partition's objects from after a cursor, in storage-key order.
//
// A Receiver reaches other nodes through [Peers] and learns the ring
// change through [Topology], so it is tested with fakes.
package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/node/loop"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
)

// batch is how many objects a transfer sends per message, and how many a
// Receiver merges between two saves of its progress.
const batch = 256

// Stream is a partition's objects as another node sends them
// ([*peer.Transfer]).
type Stream interface {
	Next() bool
	Object() peer.Object
	Cursor() []byte
	Size() int
	Remaining() uint64
	Err() error
	Close()
}

// Peers opens transfers from other nodes.
type Peers interface {
	Transfer(ctx context.Context, from string, req peer.TransferRequest) Stream
}

// Topology is the ring change in progress.
type Topology interface {
	Self() string
	Alive(id string) bool
	Transition() (prev, cur ring.Ring, plan []handoff.Transfer, nrep int, ok bool)
	Handoffs() (epoch uint64, progress []handoff.Progress, complete bool)
	PublishReport(rep handoff.Report) error
}

// Local is this node's store as a transfer fills and empties it.
type Local interface {
	// Receive folds a received object into the local replica, unsynced,
	// unless its namespace incarnation is dead; an object of an unknown one
	// fails (the pull resumes from its cursor once the metadata is here).
	Receive(ctx context.Context, o peer.Object) error
	// DropPartitions deletes the data of partitions this node gave up.
	DropPartitions(parts []int) error
}

// Config builds a Receiver.
type Config struct {
	Store    storage.Engine // keeps each transfer's progress
	Local    Local
	Topology Topology
	Peers    Peers
	Interval time.Duration
	// Limiter paces the objects fetched (nil: unpaced).
	Limiter *pace.Limiter
	Logger  *slog.Logger
}

// Receiver fetches this node's partitions of a ring change every interval
// between Start and Close. It is safe for concurrent use.
type Receiver struct {
	cfg        Config
	*loop.Loop // Start and Close

	mu        sync.Mutex
	published time.Time // when this node's progress last went out
	held      bool      // progress recorded since, not yet published
	settled   *uint64   // a ring epoch with nothing left to do here (Round)
}

// New returns a Receiver, not yet started.
func New(cfg Config) *Receiver {
	r := &Receiver{cfg: cfg}
	r.Loop = loop.New(cfg.Interval, r.Round)
	return r
}

// Round fetches the partitions this node gains in the current ring change,
// one at a time, resuming from a stored cursor after a restart, and drops
// the partitions it gave up once every transfer is done.
//
// Once every transfer of the change is done and its partitions dropped,
// later rounds of the same change return at once: they used to load the
// saved progress of each of its transfers, twice a second on every node
// until the next ring change.
func (r *Receiver) Round(ctx context.Context) {
	top := r.cfg.Topology
	prev, cur, plan, nrep, ok := top.Transition()
	if !ok || r.isSettled(cur.Epoch()) {
		return
	}
	fetched := true
	for _, tr := range plan {
		if tr.To != top.Self() {
			continue
		}
		if ctx.Err() != nil {
			fetched = false
			continue
		}
		if err := r.fetch(ctx, cur.Epoch(), tr, prev.PreferenceList(tr.Partition, nrep)); err != nil {
			fetched = false
			if ctx.Err() == nil {
				r.cfg.Logger.Warn("partition transfer interrupted; will resume", "partition", tr.Partition, "from", tr.From, "err", err)
			}
		}
	}
	r.flushReport(cur.Epoch())
	if _, _, complete := top.Handoffs(); complete && r.dropLeft(prev, cur, nrep) && fetched {
		r.settle(cur.Epoch())
	}
}

func (r *Receiver) isSettled(epoch uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settled != nil && *r.settled == epoch
}

func (r *Receiver) settle(epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settled = &epoch
}

func progressKey(epoch uint64, p int) []byte {
	return keys.Meta("handoff", fmt.Sprintf("%020d/%05d", epoch, p))
}

func (r *Receiver) loadProgress(epoch uint64, tr handoff.Transfer) handoff.Progress {
	pr := handoff.Progress{Partition: tr.Partition, From: tr.From, To: tr.To}
	if raw, err := r.cfg.Store.Get(progressKey(epoch, tr.Partition)); err == nil {
		_ = json.Unmarshal(raw, &pr)
	}
	return pr
}

func (r *Receiver) saveProgress(epoch uint64, pr handoff.Progress, sync bool) error {
	raw, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	var b storage.Batch
	b.Set(progressKey(epoch, pr.Partition), raw)
	return r.cfg.Store.Apply(&b, storage.WriteOptions{Sync: sync})
}

// fetch pulls one partition from an old replica (the planned source
// first, then the others), and records progress after each batch.
func (r *Receiver) fetch(ctx context.Context, epoch uint64, tr handoff.Transfer, oldReplicas []ring.NodeID) error {
	f := handoff.Resume(tr, r.loadProgress(epoch, tr), oldReplicas)
	if f.State() == handoff.Done {
		return nil
	}
	alive := r.cfg.Topology.Alive
	var lastErr error
	for src, ok := f.Start(alive, time.Now()); ok; src, ok = f.Start(alive, time.Now()) {
		if lastErr = r.pull(ctx, epoch, f, src); lastErr == nil {
			return nil
		}
		f.SourceFailed()
	}
	if lastErr == nil {
		lastErr = errors.New("no old replica is reachable")
	}
	return lastErr
}

// pull streams the partition from src, which f has started on, after f's
// cursor, and saves the progress every batch objects.
func (r *Receiver) pull(ctx context.Context, epoch uint64, f *handoff.Fetch, src string) error {
	pr := f.Progress()
	t := r.cfg.Peers.Transfer(ctx, src, peer.TransferRequest{Partition: uint16(pr.Partition), Cursor: pr.Cursor, BatchSize: batch})
	defer t.Close()
	var b handoff.Batch // objects merged since the progress was last saved
	err := func() error {
		for t.Next() {
			if err := r.cfg.Limiter.Wait(ctx, 1); err != nil {
				return err
			}
			if err := r.cfg.Local.Receive(ctx, t.Object()); err != nil {
				return err
			}
			b.Keys++
			b.Bytes += uint64(t.Size())
			b.Cursor, b.Remaining = t.Cursor(), t.Remaining()
			if b.Keys < batch {
				continue
			}
			report := f.Batch(b, time.Now())
			b = handoff.Batch{}
			if err := r.saveProgress(epoch, f.Progress(), false); err != nil {
				return err
			}
			if report {
				r.report(epoch)
			}
		}
		return t.Err()
	}()
	if b.Keys > 0 {
		f.Batch(b, time.Now()) // what was merged since the last save
	}
	if err != nil {
		return err
	}
	f.Finished()
	pr = f.Progress()
	if err := r.saveProgress(epoch, pr, true); err != nil { // also syncs the merged objects
		return err
	}
	r.cfg.Logger.Info("partition received", "partition", pr.Partition, "from", pr.From, "keys", pr.Keys, "bytes", pr.Bytes)
	r.report(epoch)
	return nil
}

// report publishes this node's progress for the epoch, at most once every
// handoff.ReportEvery: what it holds back goes out with the next report or
// at the end of the round (flushReport). Every report is a gossip document
// that each other node pulls with the whole document set (package
// membership) and folds into its placement: a report per partition
// received, about twenty a second in a handoff of 50,000 keys, cost the
// nodes more CPU than moving the objects did (docs/performance.md,
// session 15).
func (r *Receiver) report(epoch uint64) {
	r.mu.Lock()
	now := time.Now()
	due := now.Sub(r.published) >= handoff.ReportEvery
	if due {
		r.published = now
	}
	r.held = !due
	r.mu.Unlock()
	if due {
		r.publishReport(epoch)
	}
}

// flushReport publishes the progress report held back, if any.
func (r *Receiver) flushReport(epoch uint64) {
	r.mu.Lock()
	held := r.held
	r.held = false
	if held {
		r.published = time.Now()
	}
	r.mu.Unlock()
	if held {
		r.publishReport(epoch)
	}
}

// publishReport spreads this node's progress for the epoch.
func (r *Receiver) publishReport(epoch uint64) {
	top := r.cfg.Topology
	_, cur, plan, _, ok := top.Transition()
	if !ok || cur.Epoch() != epoch {
		return
	}
	rep := handoff.Report{Epoch: epoch}
	for _, tr := range plan {
		if tr.To == top.Self() {
			pr := r.loadProgress(epoch, tr)
			pr.Cursor = nil
			rep.Transfers = append(rep.Transfers, pr)
		}
	}
	if err := top.PublishReport(rep); err != nil {
		r.cfg.Logger.Warn("publish handoff progress", "err", err)
	}
}

// dropLeft deletes the data of partitions this node no longer replicates,
// once every transfer of the ring change is confirmed, and only once per
// change. It reports whether they are dropped (now or before).
func (r *Receiver) dropLeft(prev, cur ring.Ring, nrep int) bool {
	marker := keys.Meta("handoff-dropped", fmt.Sprint(cur.Epoch()))
	if _, err := r.cfg.Store.Get(marker); err == nil {
		return true
	}
	parts := handoff.Drops(prev, cur, nrep, r.cfg.Topology.Self())
	var b storage.Batch
	b.Set(marker, nil)
	if err := errors.Join(r.cfg.Local.DropPartitions(parts), r.cfg.Store.Apply(&b, storage.WriteOptions{Sync: true})); err != nil {
		r.cfg.Logger.Error("drop handed-off partitions", "err", err)
		return false
	}
	if len(parts) > 0 {
		r.cfg.Logger.Info("dropped handed-off partitions", "partitions", len(parts), "epoch", cur.Epoch())
	}
	return true
}
