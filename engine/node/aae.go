package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage"
)

// trees are the anti-entropy trees of every partition on this node, kept
// current by the replica store's observer on every write.
type trees []*tictac.Tree

func newTrees(q int) trees {
	t := make(trees, q)
	for p := range t {
		t[p] = tictac.New(tictac.DefaultSegments)
	}
	return t
}

// observe is the replica store's observer.
func (t trees) observe(p uint16, nsKey, old, new []byte) { t[p].Update(nsKey, old, new) }

// buildTrees computes the trees from a scan of the stored data, at start
// before any write.
func (n *Node) buildTrees() error {
	lo, _ := keys.PartitionRange(0)
	_, hi := keys.PartitionRange(uint16(n.cfg.Partitions - 1))
	return n.scanRange(lo, hi, func(k, v []byte) {
		n.trees[binary.BigEndian.Uint16(k[1:3])].Update(k[3:], nil, v)
	})
}

// deleteRanges deletes data ranges (a dropped namespace, a handed-off
// partition) and takes their keys out of the trees first. The node forgets
// what it wrote there, so the partitions' actor floors rise in the same
// batch (package actor).
func (n *Node) deleteRanges(ranges [][2][]byte) error {
	n.rangeMu.Lock() // two deletions of one range would take its keys out of the trees twice
	defer n.rangeMu.Unlock()
	var b storage.Batch
	var parts []uint16 // partitions that lose data: only they forget
	for _, r := range ranges {
		if len(r[0]) == 3 { // a whole partition (a handoff): it forgets even if a write races the scan
			parts = append(parts, binary.BigEndian.Uint16(r[0][1:3]))
		}
		err := n.scanRange(r[0], r[1], func(k, v []byte) {
			p := binary.BigEndian.Uint16(k[1:3])
			n.trees[p].Update(k[3:], v, nil)
			if len(parts) == 0 || parts[len(parts)-1] != p {
				parts = append(parts, p)
			}
		})
		if err != nil {
			return err
		}
		b.DeleteRange(r[0], r[1])
	}
	return n.actors.DeleteForgetting(&b, parts)
}

func (n *Node) scanRange(lo, hi []byte, fn func(k, v []byte)) error {
	it, err := n.eng.NewIter(lo, hi)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		fn(it.Key(), it.Value())
	}
	return errors.Join(it.Error(), it.Close())
}

// localReplica is this node's side of an exchange.
type localReplica struct{ n *Node }

func (l localReplica) Segments(_ context.Context, p int) ([]uint64, error) {
	return l.n.trees[p].Segments(), nil
}

func (l localReplica) Objects(ctx context.Context, p int, segments []int) ([]aae.KeyObject, error) {
	objs, err := l.n.segmentObjects(ctx, uint16(p), segments)
	if err != nil {
		return nil, err
	}
	out := make([]aae.KeyObject, len(objs))
	for i, o := range objs {
		out[i] = aae.KeyObject{Key: nsKey(o.Namespace, o.Key), Object: encodeObject(o.Object)}
	}
	return out, nil
}

func (l localReplica) Merge(_ context.Context, p int, objs []aae.KeyObject) error {
	for _, ko := range objs {
		ns, key, obj, err := splitKeyObject(uint16(p), ko)
		if err != nil {
			return err
		}
		if l.n.meta.Fate(ns) != meta.Live {
			// Dead: never. Unknown: once the metadata is here; the trees
			// differ until then, so a later exchange brings it again.
			continue
		}
		if _, err := l.n.replica.Merge(ns, key, obj, false); err != nil {
			return err
		}
	}
	return nil
}

// remoteReplica is another node's side of an exchange, over peer RPC.
type remoteReplica struct {
	n  *Node
	id string
}

func (r remoteReplica) Segments(ctx context.Context, p int) ([]uint64, error) {
	return r.n.peers.Tree(ctx, r.id, uint16(p))
}

func (r remoteReplica) Objects(ctx context.Context, p int, segments []int) ([]aae.KeyObject, error) {
	segs := make([]uint32, len(segments))
	for i, s := range segments {
		segs[i] = uint32(s)
	}
	objs, err := r.n.peers.Segment(ctx, r.id, uint16(p), segs)
	if err != nil {
		return nil, err
	}
	out := make([]aae.KeyObject, len(objs))
	for i, o := range objs {
		out[i] = aae.KeyObject{Key: nsKey(o.Namespace, o.Key), Object: encodeObject(o.Object)}
	}
	return out, nil
}

func (r remoteReplica) Merge(ctx context.Context, p int, objs []aae.KeyObject) error {
	out := make([]peer.Object, len(objs))
	for i, ko := range objs {
		ns, key, obj, err := splitKeyObject(uint16(p), ko)
		if err != nil {
			return err
		}
		out[i] = peer.Object{Namespace: ns, Key: key, Object: obj}
	}
	_, err := r.n.peers.Replicate(ctx, r.id, out, false, "")
	return err
}

func nsKey(ns string, key []byte) []byte { return keys.Data(0, ns, key)[3:] }

func splitKeyObject(p uint16, ko aae.KeyObject) (string, []byte, dvv.Object, error) {
	_, ns, key, err := keys.ParseData(append(keys.Data(p, "", nil)[:3], ko.Key...))
	if err != nil {
		return "", nil, dvv.Object{}, err
	}
	obj, err := dvv.Unmarshal(ko.Object)
	return ns, key, obj, err
}

func encodeObject(o dvv.Object) []byte {
	raw, _ := o.MarshalBinary()
	return raw
}

// segmentObjects returns every object of a partition in the given segments.
func (n *Node) segmentObjects(ctx context.Context, p uint16, segments []int) ([]peer.Object, error) {
	want := map[int]bool{}
	for _, s := range segments {
		want[s] = true
	}
	lo, hi := keys.PartitionRange(p)
	it, err := n.eng.NewIter(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	tree := n.trees[p]
	var out []peer.Object
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !want[tree.SegmentOf(it.Key()[3:])] {
			continue
		}
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			return nil, err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return nil, fmt.Errorf("node: decode %x: %w", it.Key(), err)
		}
		out = append(out, peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj})
	}
	return out, it.Error()
}

// Tree implements peer.Local.
func (n *Node) Tree(_ context.Context, p uint16) ([]uint64, error) {
	if int(p) >= len(n.trees) {
		return nil, errs.Invalid("partition", "partition %d is out of range", p)
	}
	return n.trees[p].Segments(), nil
}

// Segment implements peer.Local.
func (n *Node) Segment(ctx context.Context, p uint16, segments []uint32) ([]peer.Object, error) {
	if int(p) >= len(n.trees) {
		return nil, errs.Invalid("partition", "partition %d is out of range", p)
	}
	segs := make([]int, len(segments))
	for i, s := range segments {
		segs[i] = int(s)
	}
	objs, err := n.segmentObjects(ctx, p, segs)
	if err != nil {
		return nil, n.storageFailed("segment", err)
	}
	return objs, nil
}

// aaePartitions lists, for the scheduler, the partitions this node
// replicates with the replicas it exchanges with: each pair of replicas is
// exchanged by the one with the smaller ID.
func (n *Node) aaePartitions() []aae.PartitionPeers {
	r, ok := n.Ring()
	if !ok || n.peers == nil {
		return nil
	}
	nrep := min(n.handoffN(), len(r.Members()))
	var out []aae.PartitionPeers
	for p := range r.Q() {
		pref, _ := n.Replicas(uint16(p), nrep)
		if !slices.Contains(pref, n.id) {
			continue
		}
		pp := aae.PartitionPeers{Partition: p, Local: localReplica{n}}
		for _, id := range pref {
			if id > n.id && n.Alive(id) {
				pp.Peers = append(pp.Peers, remoteReplica{n: n, id: id})
			}
		}
		if len(pp.Peers) > 0 {
			out = append(out, pp)
		}
	}
	return out
}

func (n *Node) startAAE(every time.Duration) error {
	// Repairs are paced by a token bucket so a large divergence (a node back
	// after a long outage) cannot crowd out client requests; ticks are
	// skipped while many client requests are in flight.
	keysPerSecond := n.cfg.Cluster.AAEKeysPerSecond // defaulted by Open
	limiter := rate.NewLimiter(rate.Limit(keysPerSecond), max(keysPerSecond, 128))
	s, err := aae.NewScheduler(aae.SchedulerConfig{
		Interval:   every,
		Timeout:    30 * time.Second,
		Partitions: n.aaePartitions,
		Pressure:   func() bool { return n.inflight.Load() > 64 },
		Exchange:   aae.ExchangeOptions{Limiter: aae.LimiterFunc(limiter.WaitN)},
		Logger:     n.log.With("component", "aae"),
	})
	if err != nil {
		return err
	}
	s.Start(n.bgCtx)
	n.aae = s
	return nil
}
