// Package purger removes old tombstones. The first replica of each
// partition reads every replica's copy of a tombstone-only object older
// than the grace period; only when all of them hold exactly the same
// object is it removed, first from the others, then here. A replica that
// is down, a sibling written meanwhile, or a partition still moving all
// postpone the purge. The grace period must outlast hint delivery, so no
// hint of an older value can arrive after the tombstone that covered it is
// gone.
//
// Package [purge] makes every decision ([purge.Rule], [purge.Check]); a
// [Purger] scans, asks and deletes, through [Peers] (a subset of
// *peer.Client), [Topology] and [Store], so it is tested with fakes.
package purger

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/node/loop"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/purge"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
)

// readTimeout bounds the read of one replica's copy.
const readTimeout = 5 * time.Second

// Topology is where the purger finds the partitions it is first replica
// of, their replicas, and whether a ring change still moves data.
type Topology interface {
	Self() string
	Ring() (ring.Ring, bool)
	Replicas(p uint16, n int) (pref, fallbacks []string)
	Alive(id string) bool
	HandoffN() int
	Handoffs() (epoch uint64, progress []handoff.Progress, complete bool)
}

// Peers are the calls to the other replicas.
type Peers interface {
	Read(ctx context.Context, to, ns string, key []byte) (dvv.Object, error)
	Purge(ctx context.Context, to string, objs []peer.Object) (int, error)
}

// Store is this node's replica.
type Store interface {
	// DeleteIfEqual deletes a key whose stored object is exactly obj.
	DeleteIfEqual(ns string, key []byte, obj dvv.Object) (bool, error)
}

// Config builds a Purger.
type Config struct {
	Data     storage.Reader // scanned for candidates
	Store    Store
	Topology Topology
	Peers    Peers
	Interval time.Duration
	Grace    time.Duration
	Now      func() time.Time
	// BeforeRound runs first in every round (the node drops the data of
	// dead namespace incarnations a racing write may have left). Optional.
	BeforeRound func()
	Logger      *slog.Logger
}

// Purger purges tombstones every interval between Start and Close, and
// serves other nodes' purges (Purge). It is safe for concurrent use.
type Purger struct {
	cfg        Config
	*loop.Loop // Start and Close

	purged atomic.Int64
	rounds atomic.Int64
}

// New returns a Purger, not yet started.
func New(cfg Config) *Purger {
	p := &Purger{cfg: cfg}
	p.Loop = loop.New(cfg.Interval, p.Round)
	return p
}

// Purged counts the tombstones removed here; Rounds the rounds run.
func (p *Purger) Purged() int64 { return p.purged.Load() }

// Rounds counts the purge rounds that ran (not those a moving ring
// postponed).
func (p *Purger) Rounds() int64 { return p.rounds.Load() }

// Purge removes the objects whose local copies are exactly these
// (peer.Local's Purge) and reports how many it removed.
func (p *Purger) Purge(objs []peer.Object) (int, error) {
	purged := 0
	for _, o := range objs {
		ok, err := p.cfg.Store.DeleteIfEqual(o.Namespace, o.Key, o.Object)
		if err != nil {
			p.purged.Add(int64(purged))
			return purged, err
		}
		if ok {
			purged++
		}
	}
	p.purged.Add(int64(purged))
	return purged, nil
}

// Round runs one purge round over the partitions this node is the first
// replica of.
func (p *Purger) Round(ctx context.Context) {
	if p.cfg.BeforeRound != nil {
		p.cfg.BeforeRound()
	}
	top := p.cfg.Topology
	_, _, complete := top.Handoffs()
	rule := purge.Rule{Cutoff: p.cfg.Now().Add(-p.cfg.Grace).UnixNano(), Moving: !complete}
	if rule.Moving {
		return // nothing is purged while partitions move
	}
	r, ok := top.Ring()
	if !ok {
		return
	}
	p.rounds.Add(1)
	nrep := min(top.HandoffN(), len(r.Members()))
	for part := range r.Q() {
		pref, _ := top.Replicas(uint16(part), nrep)
		if !purge.Purger(pref, top.Self()) || ctx.Err() != nil {
			continue
		}
		p.partition(ctx, uint16(part), pref, rule)
	}
}

// partition purges the old tombstones of one partition that every replica
// in pref holds.
func (p *Purger) partition(ctx context.Context, part uint16, pref []string, rule purge.Rule) {
	self := p.cfg.Topology.Self()
	for _, c := range p.candidates(part, rule) {
		if ctx.Err() != nil {
			return
		}
		if p.decide(ctx, rule.Check(c.Object, pref, self), c) != purge.Purge {
			continue
		}
		ok := true
		for _, id := range pref {
			if id == self {
				continue
			}
			_, err := p.cfg.Peers.Purge(ctx, id, []peer.Object{c})
			ok = ok && err == nil
		}
		if ok {
			if _, err := p.Purge([]peer.Object{c}); err != nil {
				p.cfg.Logger.Warn("purge tombstone", "err", err)
			}
		}
	}
}

// candidates are the objects of a partition the rule asks the replicas
// about.
func (p *Purger) candidates(part uint16, rule purge.Rule) []peer.Object {
	lo, hi := keys.PartitionRange(part)
	it, err := p.cfg.Data.NewIter(lo, hi)
	if err != nil {
		return nil
	}
	defer it.Close()
	var out []peer.Object
	for ok := it.First(); ok; ok = it.Next() {
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil || rule.Candidate(obj) != purge.Ask {
			continue
		}
		if _, ns, key, err := keys.ParseData(it.Key()); err == nil {
			out = append(out, peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj})
		}
	}
	return out
}

// decide asks the other replicas for their copy of c, one at a time,
// until the check has its verdict.
func (p *Purger) decide(ctx context.Context, check *purge.Check, c peer.Object) purge.Verdict {
	for id, ok := check.Next(); ok; id, ok = check.Next() {
		if !p.cfg.Topology.Alive(id) {
			check.Unreachable(id)
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, readTimeout)
		obj, err := p.cfg.Peers.Read(callCtx, id, c.Namespace, c.Key)
		cancel()
		if err != nil {
			check.Unreachable(id)
		} else {
			check.Answer(id, obj)
		}
	}
	return check.Verdict()
}
