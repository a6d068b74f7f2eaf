package front

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
)

// ListRequest lists the live keys of a namespace.
type ListRequest struct {
	Namespace string
	Prefix    []byte
	After     []byte // a token from an earlier page; empty: from the start
}

// ListKeys calls yield for every live key of a namespace, partition by
// partition and in key order inside each, with a token that resumes the
// listing after that key. It stops when yield returns false. Each
// partition is read from one replica: this node's if it holds the
// partition, another's over peer RPC otherwise.
func (f *Front) ListKeys(ctx context.Context, req ListRequest, yield func(key, token []byte) bool) error {
	ns, err := f.namespace(req.Namespace)
	if err != nil {
		return err
	}
	start, after, err := decodeListToken(req.After)
	if err != nil {
		return err
	}
	for p := start; int(p) < f.cfg.Store.Partitions(); p++ {
		var resume []byte // list keys strictly after this one
		if p == start {
			resume = after
		}
		stop := false
		visit := func(key []byte, obj dvv.Object) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if resume != nil && bytes.Compare(key, resume) <= 0 {
				return true, nil
			}
			if !bytes.HasPrefix(key, req.Prefix) {
				return bytes.Compare(key, req.Prefix) < 0, nil // before the prefix: go on; past it: done
			}
			if !obj.HasLive() {
				return true, nil
			}
			if !yield(key, encodeListToken(p, key)) {
				stop = true
				return false, nil
			}
			return true, nil
		}
		if err := f.scanPartition(ctx, p, ns, req.Prefix, resume, visit); err != nil {
			return f.storageFailed("list", err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// scanPartition visits a namespace's objects in one partition from a replica
// that holds it completely, starting near from (or after resume).
func (f *Front) scanPartition(ctx context.Context, p uint16, ns meta.Namespace, from, resume []byte, visit func([]byte, dvv.Object) (bool, error)) error {
	top, self := f.cfg.Topology, f.cfg.Topology.Self()
	pref, _ := top.Replicas(p, int(ns.N))
	if slices.Contains(pref[:min(len(pref), int(ns.N))], self) && !top.Receiving(p) {
		if resume != nil && bytes.Compare(resume, from) > 0 {
			from = resume
		}
		return f.cfg.Store.Scan(p, ns.StorageName(), from, func(e replica.Entry) (bool, error) { return visit(e.Key, e.Object) })
	}
	// Old replicas still handing the partition over come last in pref:
	// they hold it whole, so ask them first.
	var lastErr error = errs.ErrUnavailable
	for i := len(pref) - 1; i >= 0; i-- {
		id := pref[i]
		if id == self || !top.Alive(id) || f.cfg.Peers == nil {
			continue
		}
		if lastErr = f.scanRemote(ctx, id, p, ns.StorageName(), resume, visit); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (f *Front) scanRemote(ctx context.Context, id string, p uint16, ns string, resume []byte, visit func([]byte, dvv.Object) (bool, error)) error {
	req := peer.TransferRequest{Partition: p, Namespace: ns, BatchSize: 1024}
	if resume != nil {
		req.Cursor = keys.Data(p, ns, resume)
	}
	t := f.cfg.Peers.Transfer(ctx, id, req)
	defer t.Close()
	for t.Next() {
		o := t.Object()
		if more, err := visit(o.Key, o.Object); err != nil || !more {
			return err
		}
	}
	return t.Err()
}

const listTokenVersion = 1

func encodeListToken(p uint16, key []byte) []byte {
	b := []byte{listTokenVersion}
	b = binary.BigEndian.AppendUint16(b, p)
	return append(b, key...)
}

func decodeListToken(tok []byte) (uint16, []byte, error) {
	if len(tok) == 0 {
		return 0, nil, nil
	}
	if len(tok) < 3 || tok[0] != listTokenVersion {
		return 0, nil, errs.Invalid("page_token", "the page token is not one concord issued; pass back next_page_token unchanged")
	}
	return binary.BigEndian.Uint16(tok[1:3]), tok[3:], nil
}
