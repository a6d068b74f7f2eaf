package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
)

const transferBatch = 256

// runHandoffs fetches the partitions this node gains in the current ring
// change, one at a time, resuming from a stored cursor after a restart, and
// drops the partitions it gave up once every transfer is done.
func (n *Node) runHandoffs(ctx context.Context) {
	prev, cur, plan, nrep, ok := n.currentTransition()
	if !ok {
		return
	}
	for _, tr := range plan {
		if tr.To != n.id || ctx.Err() != nil {
			continue
		}
		if err := n.fetchPartition(ctx, cur.Epoch(), tr, prev.PreferenceList(tr.Partition, nrep)); err != nil && ctx.Err() == nil {
			n.log.Warn("partition transfer interrupted; will resume", "partition", tr.Partition, "from", tr.From, "err", err)
		}
	}
	if _, _, complete := n.Handoffs(); complete {
		n.dropLeftPartitions(prev, cur, nrep)
	}
}

func progressKey(epoch uint64, p int) []byte {
	return keys.Meta("handoff", fmt.Sprintf("%020d/%05d", epoch, p))
}

func (n *Node) loadProgress(epoch uint64, tr handoff.Transfer) handoff.Progress {
	pr := handoff.Progress{Partition: tr.Partition, From: tr.From, To: tr.To}
	if raw, err := n.eng.Get(progressKey(epoch, tr.Partition)); err == nil {
		_ = json.Unmarshal(raw, &pr)
	}
	return pr
}

func (n *Node) saveProgress(epoch uint64, pr handoff.Progress, sync bool) error {
	raw, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	var b storage.Batch
	b.Set(progressKey(epoch, pr.Partition), raw)
	return n.eng.Apply(&b, storage.WriteOptions{Sync: sync})
}

// fetchPartition pulls one partition from an old replica (the planned
// source first, then the others), merging every object into the local
// replica, and records progress after each batch. A [handoff.Fetch]
// decides where to pull from and keeps the progress.
func (n *Node) fetchPartition(ctx context.Context, epoch uint64, tr handoff.Transfer, oldReplicas []ring.NodeID) error {
	f := handoff.Resume(tr, n.loadProgress(epoch, tr), oldReplicas)
	if f.State() == handoff.Done {
		return nil
	}
	var lastErr error
	for src, ok := f.Start(n.Alive, time.Now()); ok; src, ok = f.Start(n.Alive, time.Now()) {
		if lastErr = n.pull(ctx, epoch, f, src); lastErr == nil {
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
// cursor, and saves the progress every transferBatch objects.
func (n *Node) pull(ctx context.Context, epoch uint64, f *handoff.Fetch, src string) error {
	pr := f.Progress()
	t := n.peers.Transfer(ctx, src, peer.TransferRequest{Partition: uint16(pr.Partition), Cursor: pr.Cursor, BatchSize: transferBatch})
	defer t.Close()
	var b handoff.Batch // objects merged since the progress was last saved
	err := func() error {
		for t.Next() {
			// Dead incarnations are left out; an unknown one stops the pull,
			// which resumes from the cursor once the metadata is here.
			live, err := n.liveObjects([]peer.Object{t.Object()})
			if err != nil {
				return err
			}
			for _, o := range live {
				if _, err := n.replica.Merge(o.Namespace, o.Key, o.Object, false); err != nil {
					return err
				}
			}
			b.Keys++
			b.Bytes += uint64(t.Size())
			b.Cursor, b.Remaining = t.Cursor(), t.Remaining()
			if b.Keys < transferBatch {
				continue
			}
			report := f.Batch(b, time.Now())
			b = handoff.Batch{}
			if err := n.saveProgress(epoch, f.Progress(), false); err != nil {
				return err
			}
			if report {
				n.publishHandoffReport(epoch)
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
	if err := n.saveProgress(epoch, pr, true); err != nil { // also syncs the merged objects
		return err
	}
	n.log.Info("partition received", "partition", pr.Partition, "from", pr.From, "keys", pr.Keys, "bytes", pr.Bytes)
	n.publishHandoffReport(epoch)
	return nil
}

// publishHandoffReport spreads this node's progress for the epoch.
func (n *Node) publishHandoffReport(epoch uint64) {
	_, cur, plan, _, ok := n.currentTransition()
	if !ok || cur.Epoch() != epoch {
		return
	}
	rep := handoff.Report{Epoch: epoch}
	for _, tr := range plan {
		if tr.To == n.id {
			pr := n.loadProgress(epoch, tr)
			pr.Cursor = nil
			rep.Transfers = append(rep.Transfers, pr)
		}
	}
	if err := n.publish(docHandoff+n.id, rep); err != nil {
		n.log.Warn("publish handoff progress", "err", err)
	}
}

// dropLeftPartitions deletes the data of partitions this node no longer
// replicates, once every transfer of the ring change is confirmed.
func (n *Node) dropLeftPartitions(prev, cur ring.Ring, nrep int) {
	marker := keys.Meta("handoff-dropped", fmt.Sprint(cur.Epoch()))
	if _, err := n.eng.Get(marker); err == nil {
		return
	}
	var ranges [][2][]byte
	for _, p := range handoff.Drops(prev, cur, nrep, n.id) {
		lo, hi := keys.PartitionRange(uint16(p))
		ranges = append(ranges, [2][]byte{lo, hi})
	}
	dropped := len(ranges)
	var b storage.Batch
	b.Set(marker, nil)
	if err := errors.Join(n.deleteRanges(ranges), n.eng.Apply(&b, storage.WriteOptions{Sync: true})); err != nil {
		n.log.Error("drop handed-off partitions", "err", err)
		return
	}
	if dropped > 0 {
		n.log.Info("dropped handed-off partitions", "partitions", dropped, "epoch", cur.Epoch())
	}
}

// Transfer implements peer.Local: it sends a partition's objects from
// after a cursor (a storage key), in storage-key order.
func (n *Node) Transfer(ctx context.Context, req peer.TransferRequest, send func(peer.Object, uint64) error) error {
	if int(req.Partition) >= n.cfg.Partitions {
		return errs.Invalid("partition", "partition %d is out of range", req.Partition)
	}
	lo, hi := keys.PartitionRange(req.Partition)
	if req.Namespace != "" {
		lo, hi = keys.NamespaceRange(req.Partition, req.Namespace)
	}
	if c := req.Cursor; len(c) > 0 && bytes.Compare(c, lo) >= 0 {
		lo = append(append([]byte(nil), c...), 0) // just after the cursor
	}
	snap, err := n.eng.NewSnapshot()
	if err != nil {
		return n.storageFailed("transfer", err)
	}
	defer snap.Close()
	remaining, err := rangeBytes(snap, lo, hi)
	if err != nil {
		return n.storageFailed("transfer", err)
	}
	it, err := snap.NewIter(lo, hi)
	if err != nil {
		return n.storageFailed("transfer", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			return err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return n.storageFailed("transfer", fmt.Errorf("decode %x: %w", it.Key(), err))
		}
		remaining -= min(remaining, uint64(len(it.Key())+len(it.Value())))
		if err := send(peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj}, remaining); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return n.storageFailed("transfer", err)
	}
	return nil
}

func rangeBytes(r storage.Reader, lo, hi []byte) (uint64, error) {
	it, err := r.NewIter(lo, hi)
	if err != nil {
		return 0, err
	}
	var total uint64
	for ok := it.First(); ok; ok = it.Next() {
		total += uint64(len(it.Key()) + len(it.Value()))
	}
	return total, errors.Join(it.Error(), it.Close())
}
