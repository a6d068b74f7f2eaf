// Package hints delivers the hints a node keeps for other nodes (writes a
// sloppy quorum stored here for a replica that was down) to their owners
// once gossip sees them alive again, and drops what was delivered. What
// was not delivered stays, and is offered again next round.
//
// A [Deliverer] reaches owners through [Peers] (a subset of *peer.Client)
// and reads the hints through [Store] (a subset of *replica.Store), so it
// is tested with fakes.
package hints

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/node/loop"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
)

// batch is how many hints one call delivers.
const batch = 256

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
	log        *slog.Logger
	*loop.Loop // Start and Close

	delivered atomic.Int64
}

// New returns a Deliverer that runs a round every interval once started.
func New(store Store, top Topology, peers Peers, interval time.Duration, log *slog.Logger) *Deliverer {
	d := &Deliverer{store: store, top: top, peers: peers, log: log}
	d.Loop = loop.New(interval, d.Round)
	return d
}

// Delivered counts the hints delivered since the Deliverer was made.
func (d *Deliverer) Delivered() int64 { return d.delivered.Load() }

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
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err = d.peers.Replicate(callCtx, owner, objs, true, "")
		cancel()
		if err != nil {
			d.log.Debug("hint delivery failed", "owner", owner, "err", err)
			return
		}
		for _, h := range hints {
			if err := d.store.DropHint(h); err != nil {
				d.log.Warn("drop delivered hint", "err", err)
				return
			}
		}
		d.delivered.Add(int64(len(hints)))
	}
}
