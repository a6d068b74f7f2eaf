package node

import (
	"context"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	peerv1 "github.com/concord-kv/concord/proto/gen/concord/peer/v1"
)

// Tombstones are purged by the first replica of each partition: a
// tombstone-only object older than the grace period is read from every
// replica of its key; only when all of them hold exactly the same object is
// it removed, first from the others, then here. A replica that is down, a
// sibling written meanwhile, or a partition still moving all postpone the
// purge. The grace period must outlast hint delivery, so no hint of an older
// value can arrive after the tombstone that covered it is gone.

// Purge implements peer.Local.
func (n *Node) Purge(_ context.Context, objs []peer.Object) (int, error) {
	purged := 0
	for _, o := range objs {
		ok, err := n.replica.DeleteIfEqual(o.Namespace, o.Key, o.Object)
		if err != nil {
			return purged, n.storageFailed("purge", err)
		}
		if ok {
			purged++
		}
	}
	n.tombstonesPurged.Add(int64(purged))
	return purged, nil
}

// purge runs one purge round over the partitions this node is the first
// replica of. It first drops the data of dead namespace incarnations that a
// write racing a metadata change may have left (incarnation.go).
func (n *Node) purge(ctx context.Context, grace time.Duration) {
	n.dropDeadData()
	if _, _, complete := n.Handoffs(); !complete {
		return
	}
	r, ok := n.Ring()
	if !ok {
		return
	}
	n.purgeRounds.Add(1)
	nrep := min(n.handoffN(), len(r.Members()))
	cutoff := n.cfg.Now().Add(-grace).UnixNano()
	for p := range r.Q() {
		pref, _ := n.Replicas(uint16(p), nrep)
		if len(pref) == 0 || pref[0] != n.id || ctx.Err() != nil {
			continue
		}
		n.purgePartition(ctx, uint16(p), pref, cutoff)
	}
}

// purgePartition purges the old tombstones of one partition that every
// replica in pref holds.
func (n *Node) purgePartition(ctx context.Context, p uint16, pref []string, cutoff int64) {
	var candidates []peer.Object
	lo, hi := keys.PartitionRange(p)
	_ = n.scanRange(lo, hi, func(k, v []byte) {
		obj, err := dvv.Unmarshal(v)
		if err != nil || obj.HasLive() || newest(obj) > cutoff {
			return
		}
		_, ns, key, err := keys.ParseData(k)
		if err == nil {
			candidates = append(candidates, peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj})
		}
	})
	for _, c := range candidates {
		if ctx.Err() != nil {
			return
		}
		if !n.everyReplicaHolds(ctx, pref, c) {
			continue
		}
		ok := true
		for _, id := range pref {
			if id == n.id {
				continue
			}
			pc, err := n.peers.Raw(id)
			if err == nil {
				_, err = pc.Purge(ctx, &peerv1.PurgeRequest{Objects: peer.EncodeObjects([]peer.Object{c})})
			}
			ok = ok && err == nil
		}
		if ok {
			_, _ = n.Purge(ctx, []peer.Object{c})
		}
	}
}

func (n *Node) everyReplicaHolds(ctx context.Context, pref []string, c peer.Object) bool {
	for _, id := range pref {
		if id == n.id {
			continue
		}
		if !n.Alive(id) {
			return false
		}
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		obj, err := n.peers.Read(callCtx, id, c.Namespace, c.Key)
		cancel()
		if err != nil || !obj.Equal(c.Object) {
			return false
		}
	}
	return true
}

// newest is the latest sibling timestamp of an object.
func newest(o dvv.Object) int64 {
	var t int64
	for _, s := range o.Siblings() {
		t = max(t, s.Timestamp)
	}
	return t
}
