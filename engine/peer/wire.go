package peer

import (
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
)

// This file turns domain types into their wire form and back. Objects
// travel in the dvv binary encoding; the zero object (no replica) travels
// as no bytes.

func encodeObject(o dvv.Object) []byte {
	if o.IsZero() {
		return nil
	}
	raw, _ := o.MarshalBinary()
	return raw
}

func decodeObject(raw []byte) (dvv.Object, error) {
	if len(raw) == 0 {
		return dvv.Object{}, nil
	}
	return dvv.Unmarshal(raw)
}

func encodeObjects(objs []Object) []*peerv1.KeyObject {
	out := make([]*peerv1.KeyObject, 0, len(objs))
	for _, o := range objs {
		out = append(out, &peerv1.KeyObject{Namespace: o.Namespace, Key: o.Key, Object: encodeObject(o.Object)})
	}
	return out
}

// decodeObjects decodes the objects of a message. A malformed one is the
// sender's fault: the handler answers it as invalid, and a client that
// receives one reports it the same way.
func decodeObjects(in []*peerv1.KeyObject) ([]Object, error) {
	out := make([]Object, 0, len(in))
	for _, ko := range in {
		obj, err := decodeObject(ko.GetObject())
		if err != nil {
			return nil, errs.Invalid("objects", "malformed object for key %q", ko.GetKey())
		}
		out = append(out, Object{Namespace: ko.GetNamespace(), Key: ko.GetKey(), Object: obj})
	}
	return out, nil
}

func encodeCoordinate(req CoordinateRequest) *peerv1.CoordinateRequest {
	return &peerv1.CoordinateRequest{
		Namespace: req.Namespace, Key: req.Key, Value: req.Value, Context: req.Context,
		W: req.W, Dw: req.DW, IfAbsent: req.IfAbsent, IfContextCurrent: req.IfContextCurrent,
		Tombstone: req.Tombstone, Force: req.Force, Hops: uint32(req.Hops),
	}
}

func decodeCoordinate(req *peerv1.CoordinateRequest) CoordinateRequest {
	return CoordinateRequest{
		Namespace: req.GetNamespace(), Key: req.GetKey(), Value: req.GetValue(), Context: req.GetContext(),
		W: req.GetW(), DW: req.GetDw(), IfAbsent: req.GetIfAbsent(), IfContextCurrent: req.GetIfContextCurrent(),
		Tombstone: req.GetTombstone(), Force: req.GetForce(), Hops: int(req.GetHops()),
	}
}

func encodeTransfer(req TransferRequest) *peerv1.TransferRequest {
	return &peerv1.TransferRequest{
		Partition: uint32(req.Partition), Cursor: req.Cursor, BatchSize: uint32(max(req.BatchSize, 0)),
		Namespace: req.Namespace,
	}
}
