// Package hints delivers the hints a node keeps for other nodes (writes a
// sloppy quorum stored here for a replica that was down) to their owners
// once gossip sees them alive again, and drops what was delivered. What
// was not delivered stays, and is offered again next round.
//
// An owner that answers but refuses a batch as invalid (a value over a
// namespace limit that was lowered since the write, for instance) would
// block every later hint for it: the batch is then offered one hint at a
// time, and a hint the owner refuses on its own is dropped with a warning
// and counted ([Deliverer.Refused]) — it can never be delivered, and the
// write it carries is still on the replicas that acknowledged it.
//
// A [Deliverer] reaches owners through [Peers] (a subset of *peer.Client)
// and reads the hints through [Store] (a subset of *replica.Store), so it
// is tested with fakes.
package hints

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node/loop"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
)

// batch is how many hints one call delivers. The owner merges a batch
// in one go and a foreground write to it may wait for that (its peer
// calls share requests with the delivery's: package peer's coalescing):
// 64 hints are a few milliseconds of its time, where 256 held writes up
// for tens, and the limiter spreads the batches out.
const batch = 64

// callTimeout bounds one delivery call.
const callTimeout = 10 * time.Second

// Store is where the hints are kept.
type Store interface {
	HintBacklog() int64
	Hints(owner string, limit int) ([]replica.Hint, error)
	DropHint(h replica.Hint) error
}

// Topology tells which nodes hints may be for and which are up.
type Topology interface {
	Self() string
	Ring() (ring.Ring, bool)
	Alive(id string) bool
}

// Peers delivers hints: a synced replication to their owner.
type Peers interface {
	Replicate(ctx context.Context, to string, objs []peer.Object, sync bool, intendedOwner string) (bool, error)
}

// Deliverer offers hints to their owners every interval between Start and
// Close. It is safe for concurrent use.
type Deliverer struct {
	store      Store
	top        Topology
	peers      Peers
	limiter    *pace.Limiter // paces hints sent; nil: unpaced
	log        *slog.Logger
	*loop.Loop // Start and Close

	delivered atomic.Int64
	refused   atomic.Int64
}

// New returns a Deliverer that runs a round every interval once started.
func New(store Store, top Topology, peers Peers, interval time.Duration, limiter *pace.Limiter, log *slog.Logger) *Deliverer {
	d := &Deliverer{store: store, top: top, peers: peers, limiter: limiter, log: log}
	d.Loop = loop.New(interval, d.Round)
	return d
}

// Delivered counts the hints delivered since the Deliverer was made.
func (d *Deliverer) Delivered() int64 { return d.delivered.Load() }

// Refused counts the hints dropped because their owner refused them as
// invalid.
func (d *Deliverer) Refused() int64 { return d.refused.Load() }

// Round offers the hints to every ring member that is alive, and drops the
// delivered ones.
func (d *Deliverer) Round(ctx context.Context) {
	if d.store.HintBacklog() == 0 {
		return
	}
	r, ok := d.top.Ring()
	if !ok {
		return
	}
	for _, m := range r.Members() {
		owner := string(m.ID)
		if owner != d.top.Self() && d.top.Alive(owner) {
			d.deliverTo(ctx, owner)
		}
	}
}

func (d *Deliverer) deliverTo(ctx context.Context, owner string) {
	for ctx.Err() == nil {
		hints, err := d.store.Hints(owner, batch)
		if err != nil || len(hints) == 0 {
			return
		}
		objs := make([]peer.Object, len(hints))
		for i, h := range hints {
			objs[i] = peer.Object{Namespace: h.Namespace, Key: h.Key, Object: h.Object}
		}
		if d.limiter.Wait(ctx, len(objs)) != nil {
			return
		}
		err = d.send(ctx, owner, objs)
		if refused(err) && len(hints) > 1 {
			d.oneByOne(ctx, owner, hints)
			continue
		}
		if err != nil {
			d.log.Debug("hint delivery failed", "owner", owner, "err", err)
			return
		}
		if !d.drop(hints...) {
			return
		}
		d.delivered.Add(int64(len(hints)))
	}
}

func (d *Deliverer) send(ctx context.Context, owner string, objs []peer.Object) error {
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := d.peers.Replicate(callCtx, owner, objs, true, "")
	return err
}

// oneByOne delivers a refused batch hint by hint: delivered ones and ones
// the owner refuses on their own are dropped; the rest stay.
func (d *Deliverer) oneByOne(ctx context.Context, owner string, hints []replica.Hint) {
	for _, h := range hints {
		err := d.send(ctx, owner, []peer.Object{{Namespace: h.Namespace, Key: h.Key, Object: h.Object}})
		switch {
		case err == nil:
			d.delivered.Add(1)
		case refused(err):
			d.log.Warn("hint refused by its owner as invalid; dropped", "owner", owner, "namespace", h.Namespace, "key", h.Key, "err", err)
			d.refused.Add(1)
		default:
			d.log.Debug("hint delivery failed", "owner", owner, "err", err)
			return
		}
		if !d.drop(h) {
			return
		}
	}
}

func (d *Deliverer) drop(hints ...replica.Hint) bool {
	for _, h := range hints {
		if err := d.store.DropHint(h); err != nil {
			d.log.Warn("drop delivered hint", "err", err)
			return false
		}
	}
	return true
}

// refused reports whether the owner answered that what it was sent is
// invalid (it will never take it), as opposed to failing or not answering.
func refused(err error) bool {
	var inv *errs.InvalidError
	var lim *errs.LimitError
	return errors.As(err, &inv) || errors.As(err, &lim)
}
