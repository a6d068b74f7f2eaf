package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
	peerv1 "github.com/concord-kv/concord/proto/gen/concord/peer/v1"
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
// replica, and records progress after each batch.
func (n *Node) fetchPartition(ctx context.Context, epoch uint64, tr handoff.Transfer, oldReplicas []ring.NodeID) error {
	pr := n.loadProgress(epoch, tr)
	if pr.Done {
		return nil
	}
	sources := []string{tr.From}
	for _, id := range oldReplicas {
		if s := string(id); s != tr.From && s != n.id {
			sources = append(sources, s)
		}
	}
	var lastErr error
	for _, src := range sources {
		if !n.Alive(src) {
			continue
		}
		pr.From = src
		if lastErr = n.pull(ctx, epoch, &pr); lastErr == nil {
			return nil
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no old replica is reachable")
	}
	return lastErr
}

func (n *Node) pull(ctx context.Context, epoch uint64, pr *handoff.Progress) error {
	pc, err := n.peers.Raw(pr.From)
	if err != nil {
		return err
	}
	stream, err := pc.Transfer(ctx, &peerv1.TransferRequest{Partition: uint32(pr.Partition), Cursor: pr.Cursor, BatchSize: transferBatch})
	if err != nil {
		return err
	}
	defer stream.Close()
	lastReport := time.Time{}
	window := time.Now()
	var windowBytes uint64
	for stream.Receive() {
		msg := stream.Msg()
		objs, err := peer.DecodeObjects(msg.GetObjects())
		if err != nil {
			return err
		}
		// Dead incarnations are left out; an unknown one stops the pull,
		// which resumes from the cursor once the metadata is here.
		live, err := n.liveObjects(objs)
		if err != nil {
			return err
		}
		for _, o := range live {
			if _, err := n.replica.Merge(o.Namespace, o.Key, o.Object, false); err != nil {
				return err
			}
		}
		for _, ko := range msg.GetObjects() {
			pr.Bytes += uint64(len(ko.GetKey()) + len(ko.GetObject()))
			windowBytes += uint64(len(ko.GetKey()) + len(ko.GetObject()))
		}
		pr.Keys += uint64(len(objs))
		pr.Cursor = msg.GetCursor()
		pr.RemainingBytes = msg.GetRemainingBytes()
		if el := time.Since(window); el >= 500*time.Millisecond {
			pr.Rate = float64(windowBytes) / el.Seconds()
			window, windowBytes = time.Now(), 0
		}
		if err := n.saveProgress(epoch, *pr, false); err != nil {
			return err
		}
		if time.Since(lastReport) > 500*time.Millisecond {
			n.publishHandoffReport(epoch)
			lastReport = time.Now()
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	pr.Done, pr.RemainingBytes, pr.Rate = true, 0, 0
	if err := n.saveProgress(epoch, *pr, true); err != nil { // also syncs the merged objects
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
	for p, ids := range handoff.Leaving(prev, cur, nrep) {
		if slices.Contains(ids, n.id) {
			lo, hi := keys.PartitionRange(uint16(p))
			ranges = append(ranges, [2][]byte{lo, hi})
		}
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

// Transfer implements peer.Local: it streams a partition's objects from
// after a cursor, in storage-key order.
func (n *Node) Transfer(ctx context.Context, req *peerv1.TransferRequest, send func(*peerv1.TransferResponse) error) error {
	if req.GetPartition() >= uint32(n.cfg.Partitions) {
		return errs.Invalid("partition", "partition %d is out of range", req.GetPartition())
	}
	batch := int(req.GetBatchSize())
	if batch <= 0 || batch > 4096 {
		batch = transferBatch
	}
	lo, hi := keys.PartitionRange(uint16(req.GetPartition()))
	if ns := req.GetNamespace(); ns != "" {
		lo, hi = keys.NamespaceRange(uint16(req.GetPartition()), ns)
	}
	if c := req.GetCursor(); len(c) > 0 && bytes.Compare(c, lo) >= 0 {
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
	msg := &peerv1.TransferResponse{}
	for ok := it.First(); ok; ok = it.Next() {
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			return err
		}
		msg.Objects = append(msg.Objects, &peerv1.KeyObject{Namespace: ns, Key: slices.Clone(key), Object: slices.Clone(it.Value())})
		remaining -= min(remaining, uint64(len(it.Key())+len(it.Value())))
		if len(msg.Objects) == batch {
			msg.Cursor, msg.RemainingBytes = slices.Clone(it.Key()), remaining
			if err := send(msg); err != nil {
				return err
			}
			msg = &peerv1.TransferResponse{}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return n.storageFailed("transfer", err)
	}
	if len(msg.Objects) > 0 {
		last := msg.Objects[len(msg.Objects)-1]
		msg.Cursor = keys.Data(uint16(req.GetPartition()), last.GetNamespace(), last.GetKey())
		return send(msg)
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
