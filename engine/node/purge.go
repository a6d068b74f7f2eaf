package node

import (
	"context"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/purge"
)

// Tombstones are purged by the first replica of each partition: a
// tombstone-only object older than the grace period is read from every
// replica of its key; only when all of them hold exactly the same object is
// it removed, first from the others, then here. A replica that is down, a
// sibling written meanwhile, or a partition still moving all postpone the
// purge. The grace period must outlast hint delivery, so no hint of an older
// value can arrive after the tombstone that covered it is gone. Package
// purge makes the decision; this file scans, reads and deletes.

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
	_, _, complete := n.Handoffs()
	rule := purge.Rule{Cutoff: n.cfg.Now().Add(-grace).UnixNano(), Moving: !complete}
	if rule.Moving {
		return // nothing is purged while partitions move
	}
	r, ok := n.Ring()
	if !ok {
		return
	}
	n.purgeRounds.Add(1)
	nrep := min(n.handoffN(), len(r.Members()))
	for p := range r.Q() {
		pref, _ := n.Replicas(uint16(p), nrep)
		if !purge.Purger(pref, n.id) || ctx.Err() != nil {
			continue
		}
		n.purgePartition(ctx, uint16(p), pref, rule)
	}
}

// purgePartition purges the old tombstones of one partition that every
// replica in pref holds.
func (n *Node) purgePartition(ctx context.Context, p uint16, pref []string, rule purge.Rule) {
	var candidates []peer.Object
	lo, hi := keys.PartitionRange(p)
	_ = n.scanRange(lo, hi, func(k, v []byte) {
		obj, err := dvv.Unmarshal(v)
		if err != nil || rule.Candidate(obj) != purge.Ask {
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
		if n.decidePurge(ctx, rule.Check(c.Object, pref, n.id), c) != purge.Purge {
			continue
		}
		ok := true
		for _, id := range pref {
			if id == n.id {
				continue
			}
			_, err := n.peers.Purge(ctx, id, []peer.Object{c})
			ok = ok && err == nil
		}
		if ok {
			_, _ = n.Purge(ctx, []peer.Object{c})
		}
	}
}

// decidePurge asks the other replicas for their copy of c, one at a time,
// until the check has its verdict.
func (n *Node) decidePurge(ctx context.Context, check *purge.Check, c peer.Object) purge.Verdict {
	for id, ok := check.Next(); ok; id, ok = check.Next() {
		if !n.Alive(id) {
			check.Unreachable(id)
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		obj, err := n.peers.Read(callCtx, id, c.Namespace, c.Key)
		cancel()
		if err != nil {
			check.Unreachable(id)
		} else {
			check.Answer(id, obj)
		}
	}
	return check.Verdict()
}
