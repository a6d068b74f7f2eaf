package antientropy

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
)

// Topology is where the service finds the partitions this node replicates
// and their live replicas.
type Topology interface {
	Self() string
	Ring() (ring.Ring, bool)
	Replicas(p uint16, n int) (pref, fallbacks []string)
	Alive(id string) bool
	// HandoffN is the largest replica count in use.
	HandoffN() int
	// Handoffs reports the transfers of the current ring change with
	// their progress.
	Handoffs() (epoch uint64, progress []handoff.Progress, complete bool)
}

// Peers are the calls the service makes to other replicas (a subset of
// *peer.Client).
type Peers interface {
	Tree(ctx context.Context, to string, p uint16) ([]uint64, error)
	Segment(ctx context.Context, to string, p uint16, segments []uint32) ([]peer.Object, error)
	Replicate(ctx context.Context, to string, objs []peer.Object, sync bool, intendedOwner string) (bool, error)
}

// Local is this node's replica as an exchange writes to it.
type Local interface {
	// Live reports whether a storage namespace is a live incarnation
	// here: only those are merged (a dead one never, an unknown one once
	// its metadata is here; the trees differ until then, so a later
	// exchange brings it again).
	Live(ns string) bool
	// Merge folds one object into the local replica.
	Merge(ctx context.Context, o peer.Object) error
}

// Config builds a Service.
type Config struct {
	Trees    *Trees
	Topology Topology
	Peers    Peers
	Local    Local
	// Interval is the pause between two exchanges.
	Interval time.Duration
	// Limiter paces the keys repaired (package pace).
	Limiter *pace.Limiter
	// Pressure reports whether foreground work is heavy: ticks are
	// skipped while it is.
	Pressure func() bool
	// Repaired, if set, is told of the keys of a storage namespace that an
	// exchange repaired (merged here, or sent to the other replica).
	Repaired func(ns string, keys int)
	Logger   *slog.Logger
}

// Service runs this node's anti-entropy exchanges. Start and Close may be
// called once each; Metrics is safe for concurrent use.
type Service struct {
	cfg   Config
	sched *aae.Scheduler
}

// New returns a service, not yet started.
func New(cfg Config) (*Service, error) {
	s := &Service{cfg: cfg}
	// Repairs are paced so a large divergence (a node back after a long
	// outage) cannot crowd out client requests.
	sched, err := aae.NewScheduler(aae.SchedulerConfig{
		Interval:   cfg.Interval,
		Timeout:    30 * time.Second,
		Partitions: s.partitions,
		Pressure:   cfg.Pressure,
		Exchange:   aae.ExchangeOptions{Limiter: aae.LimiterFunc(cfg.Limiter.Wait)},
		Logger:     cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.sched = sched
	return s, nil
}

// Start runs the exchanges until ctx ends or Close.
func (s *Service) Start(ctx context.Context) { s.sched.Start(ctx) }

// Close stops the exchanges and waits for the one running.
func (s *Service) Close() error { return s.sched.Close() }

// Metrics are the scheduler's counters.
func (s *Service) Metrics() aae.Metrics { return s.sched.Metrics() }

// partitions lists the partitions this node replicates with the replicas
// it exchanges with: each pair of replicas is exchanged by the one with
// the smaller ID. A replica sending or receiving the partition in a
// transfer of the current ring change is left out until the transfer is
// done (the handoff is copying the data anti-entropy would), and so is the
// partition if this node is one.
func (s *Service) partitions() []aae.PartitionPeers {
	top := s.cfg.Topology
	r, ok := top.Ring()
	if !ok {
		return nil
	}
	self := top.Self()
	nrep := min(top.HandoffN(), len(r.Members()))
	_, progress, _ := top.Handoffs()
	moving := handoff.Moving(progress)
	// Made once per node, not once per partition: this runs every round.
	var local aae.Replica = localReplica{s.cfg}
	remotes := map[string]aae.Replica{} // the live nodes met so far; nil: down
	remote := func(id string) aae.Replica {
		r, seen := remotes[id]
		if !seen {
			if top.Alive(id) {
				r = remoteReplica{peers: s.cfg.Peers, id: id, repaired: s.cfg.Repaired}
			}
			remotes[id] = r
		}
		return r
	}
	var out []aae.PartitionPeers
	for p := range r.Q() {
		pref, _ := top.Replicas(uint16(p), nrep)
		if !slices.Contains(pref, self) || slices.Contains(moving[p], self) {
			continue
		}
		pp := aae.PartitionPeers{Partition: p, Local: local}
		for _, id := range pref {
			if id <= self || slices.Contains(moving[p], id) {
				continue
			}
			if r := remote(id); r != nil {
				pp.Peers = append(pp.Peers, r)
			}
		}
		if len(pp.Peers) > 0 {
			out = append(out, pp)
		}
	}
	return out
}

// localReplica is this node's side of an exchange.
type localReplica struct{ cfg Config }

func (l localReplica) Segments(_ context.Context, p int) ([]uint64, error) {
	return l.cfg.Trees.Tree(uint16(p))
}

func (l localReplica) Objects(ctx context.Context, p int, segments []int) ([]aae.KeyObject, error) {
	objs, err := l.cfg.Trees.objects(ctx, uint16(p), segments)
	return keyObjects(objs), err
}

func (l localReplica) Merge(ctx context.Context, p int, objs []aae.KeyObject) error {
	for _, ko := range objs {
		o, err := splitKeyObject(uint16(p), ko)
		if err != nil {
			return err
		}
		if !l.cfg.Local.Live(o.Namespace) {
			continue
		}
		if err := l.cfg.Local.Merge(ctx, o); err != nil {
			return err
		}
		countRepairs(l.cfg.Repaired, []peer.Object{o})
	}
	return nil
}

// remoteReplica is another node's side of an exchange.
type remoteReplica struct {
	peers    Peers
	id       string
	repaired func(ns string, keys int) // Config.Repaired
}

func (r remoteReplica) Segments(ctx context.Context, p int) ([]uint64, error) {
	return r.peers.Tree(ctx, r.id, uint16(p))
}

func (r remoteReplica) Objects(ctx context.Context, p int, segments []int) ([]aae.KeyObject, error) {
	segs := make([]uint32, len(segments))
	for i, s := range segments {
		segs[i] = uint32(s)
	}
	objs, err := r.peers.Segment(ctx, r.id, uint16(p), segs)
	if err != nil {
		return nil, err
	}
	return keyObjects(objs), nil
}

func (r remoteReplica) Merge(ctx context.Context, p int, objs []aae.KeyObject) error {
	out := make([]peer.Object, len(objs))
	for i, ko := range objs {
		o, err := splitKeyObject(uint16(p), ko)
		if err != nil {
			return err
		}
		out[i] = o
	}
	if _, err := r.peers.Replicate(ctx, r.id, out, false, ""); err != nil {
		return err
	}
	countRepairs(r.repaired, out)
	return nil
}

// countRepairs tells repaired (if set) of the repaired objects, per
// namespace.
func countRepairs(repaired func(ns string, keys int), objs []peer.Object) {
	if repaired == nil {
		return
	}
	for i := 0; i < len(objs); {
		j := i + 1
		for j < len(objs) && objs[j].Namespace == objs[i].Namespace {
			j++
		}
		repaired(objs[i].Namespace, j-i)
		i = j
	}
}

// keyObjects are objects as an exchange carries them: the key with its
// namespace (as a tree holds it) and the encoded object.
func keyObjects(objs []peer.Object) []aae.KeyObject {
	out := make([]aae.KeyObject, len(objs))
	for i, o := range objs {
		raw, _ := o.Object.MarshalBinary()
		out[i] = aae.KeyObject{Key: keys.Data(0, o.Namespace, o.Key)[3:], Object: raw}
	}
	return out
}

func splitKeyObject(p uint16, ko aae.KeyObject) (peer.Object, error) {
	_, ns, key, err := keys.ParseData(append(keys.Data(p, "", nil)[:3], ko.Key...))
	if err != nil {
		return peer.Object{}, err
	}
	obj, err := dvv.Unmarshal(ko.Object)
	return peer.Object{Namespace: ns, Key: key, Object: obj}, err
}
