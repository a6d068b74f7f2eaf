package peer

import (
	"maps"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/nsstats"
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

func encodeNamespaceStats(s nsstats.Stats) *peerv1.NamespaceStatsResponse {
	out := &peerv1.NamespaceStatsResponse{
		ReadsByVersions: s.ReadsByVersions[:],
		Resolver: &peerv1.ResolverStats{
			Calls: s.Resolver.Calls, Failures: encodeCounts(s.Resolver.Failures),
			CpuNanos: nanos(s.Resolver.CPU), P99Nanos: nanos(s.Resolver.P99), Breaker: s.Resolver.Breaker,
		},
		Rejections: encodeCounts(s.Rejections),
		Hints:      s.Hints, KeysRepaired: s.KeysRepaired, StoredKeys: s.StoredKeys, StoredBytes: s.StoredBytes,
	}
	for _, o := range s.Operations {
		out.Operations = append(out.Operations, &peerv1.OperationStats{
			Operation: o.Name, Requests: o.Requests, Errors: encodeCounts(o.Errors),
			P50Nanos: nanos(o.P50), P99Nanos: nanos(o.P99), P999Nanos: nanos(o.P999),
		})
	}
	return out
}

// decodeNamespaceStats is node's answer about namespace ns. Extra
// buckets of reads_by_versions (from a newer sender) count as the last.
func decodeNamespaceStats(node, ns string, in *peerv1.NamespaceStatsResponse) nsstats.Stats {
	r := in.GetResolver()
	s := nsstats.Stats{
		Namespace: ns, Node: node,
		Resolver: nsstats.Resolver{
			Calls: r.GetCalls(), Failures: decodeCounts(r.GetFailures()),
			CPU: time.Duration(r.GetCpuNanos()), P99: time.Duration(r.GetP99Nanos()), Breaker: r.GetBreaker(),
		},
		Rejections: decodeCounts(in.GetRejections()),
		Hints:      in.GetHints(), KeysRepaired: in.GetKeysRepaired(), StoredKeys: in.GetStoredKeys(), StoredBytes: in.GetStoredBytes(),
	}
	for i, c := range in.GetReadsByVersions() {
		s.ReadsByVersions[min(i, nsstats.Versions-1)] += c
	}
	for _, o := range in.GetOperations() {
		s.Operations = append(s.Operations, nsstats.Operation{
			Name: o.GetOperation(), Requests: o.GetRequests(), Errors: decodeCounts(o.GetErrors()),
			P50: time.Duration(o.GetP50Nanos()), P99: time.Duration(o.GetP99Nanos()), P999: time.Duration(o.GetP999Nanos()),
		})
	}
	return s
}

// encodeCounts sends named counts in name order.
func encodeCounts(m map[string]uint64) []*peerv1.Count {
	out := make([]*peerv1.Count, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, &peerv1.Count{Name: name, Count: m[name]})
	}
	return out
}

func decodeCounts(in []*peerv1.Count) map[string]uint64 {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(in))
	for _, c := range in {
		out[c.GetName()] += c.GetCount()
	}
	return out
}

func nanos(d time.Duration) uint64 { return uint64(max(d, 0)) }
