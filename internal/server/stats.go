package server

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/nsstats"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// GetNamespaceStats asks every node for its numbers of the namespace
// (engine/node's ClusterNamespaceStats) and answers each node's, their
// total and the nodes that did not answer.
func (s *adminService) GetNamespaceStats(ctx context.Context, req *adminv1.GetNamespaceStatsRequest) (*adminv1.GetNamespaceStatsResponse, error) {
	if req.GetNamespace() == "" {
		return nil, errs.Invalid("namespace", "namespace is required")
	}
	cs, err := s.node.ClusterNamespaceStats(ctx, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	out := &adminv1.GetNamespaceStatsResponse{Total: statsToProto(cs.Total), Missing: cs.Missing}
	for _, st := range cs.Nodes {
		out.Nodes = append(out.Nodes, statsToProto(st))
	}
	return out, nil
}

func statsToProto(s nsstats.Stats) *adminv1.NamespaceStats {
	out := &adminv1.NamespaceStats{
		Node:            s.Node,
		ReadsByVersions: s.ReadsByVersions[:],
		Resolver: &adminv1.ResolverStats{
			Calls: s.Resolver.Calls, Failures: countsToProto(s.Resolver.Failures),
			CpuMs: millis(s.Resolver.CPU), P99Ms: millis(s.Resolver.P99), Breaker: s.Resolver.Breaker,
		},
		Rejections:   countsToProto(s.Rejections),
		Hints:        s.Hints,
		KeysRepaired: s.KeysRepaired,
		StoredKeys:   s.StoredKeys,
		StoredBytes:  s.StoredBytes,
	}
	for _, o := range s.Operations {
		out.Operations = append(out.Operations, &adminv1.OperationStats{
			Operation: o.Name, Requests: o.Requests, Errors: countsToProto(o.Errors),
			P50Ms: millis(o.P50), P99Ms: millis(o.P99), P999Ms: millis(o.P999),
		})
	}
	return out
}

// countsToProto lists named counts by name.
func countsToProto(m map[string]uint64) []*adminv1.Count {
	out := make([]*adminv1.Count, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, &adminv1.Count{Name: name, Count: m[name]})
	}
	return out
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
