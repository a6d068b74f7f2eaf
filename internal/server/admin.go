package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// adminService adapts the node's administration calls to
// adminv1connect.AdminServiceHandler. It translates; the node decides.
type adminService struct {
	node *node.Node
}

var _ adminv1connect.AdminServiceHandler = (*adminService)(nil)

func (s *adminService) CreateNamespace(_ context.Context, req *adminv1.CreateNamespaceRequest) (*adminv1.CreateNamespaceResponse, error) {
	ns, err := namespaceFromProto(req.GetName(), req.GetSettings())
	if err == nil {
		ns, err = s.node.CreateNamespace(ns)
	}
	if err != nil {
		return nil, err
	}
	return &adminv1.CreateNamespaceResponse{Namespace: namespaceToProto(ns)}, nil
}

func (s *adminService) GetNamespace(_ context.Context, req *adminv1.GetNamespaceRequest) (*adminv1.GetNamespaceResponse, error) {
	ns, err := s.node.Namespace(req.GetName())
	if err != nil {
		return nil, err
	}
	return &adminv1.GetNamespaceResponse{Namespace: namespaceToProto(ns)}, nil
}

func (s *adminService) ListNamespaces(context.Context, *adminv1.ListNamespacesRequest) (*adminv1.ListNamespacesResponse, error) {
	out := &adminv1.ListNamespacesResponse{}
	for _, ns := range s.node.Namespaces() {
		out.Namespaces = append(out.Namespaces, namespaceToProto(ns))
	}
	return out, nil
}

func (s *adminService) UpdateNamespace(_ context.Context, req *adminv1.UpdateNamespaceRequest) (*adminv1.UpdateNamespaceResponse, error) {
	in, err := namespaceFromProto(req.GetName(), req.GetSettings())
	if err != nil {
		return nil, err
	}
	next, err := s.node.UpdateNamespace(node.NamespaceUpdate{Namespace: in, Fields: req.GetUpdateMask().GetPaths()})
	if err != nil {
		return nil, err
	}
	return &adminv1.UpdateNamespaceResponse{Namespace: namespaceToProto(next)}, nil
}

func (s *adminService) DeleteNamespace(_ context.Context, req *adminv1.DeleteNamespaceRequest) (*adminv1.DeleteNamespaceResponse, error) {
	if err := s.node.DeleteNamespace(req.GetName(), req.GetForce()); err != nil {
		return nil, err
	}
	return &adminv1.DeleteNamespaceResponse{}, nil
}

// namespaceFromProto is the namespace name with settings p (nil: all
// zero, the defaults).
func namespaceFromProto(name string, p *adminv1.NamespaceSettings) (meta.Namespace, error) {
	ns := meta.Namespace{
		Name: name, N: p.GetN(), R: p.GetR(), W: p.GetW(), DW: p.GetDw(),
		Limits: meta.Limits{
			MaxValueBytes:   uint64(p.GetLimits().GetMaxValueBytes()),
			MaxKeyBytes:     p.GetLimits().GetMaxKeyBytes(),
			MaxSiblings:     p.GetLimits().GetMaxSiblings(),
			ReadsPerSecond:  p.GetLimits().GetReadsPerSecond(),
			WritesPerSecond: p.GetLimits().GetWritesPerSecond(),

			MaxStoredBytes:         p.GetLimits().GetMaxStoredBytes(),
			MaxKeys:                p.GetLimits().GetMaxKeys(),
			ResolverCPUMsPerSecond: p.GetLimits().GetResolverCpuMsPerSecond(),
			ResolverConcurrency:    p.GetLimits().GetResolverConcurrency(),
			WriteBytesPerSecond:    p.GetLimits().GetWriteBytesPerSecond(),
		},
	}
	switch p.GetDurability() {
	case adminv1.Durability_DURABILITY_UNSPECIFIED:
	case adminv1.Durability_DURABILITY_SYNC:
		ns.Durability = meta.DurabilitySync
	case adminv1.Durability_DURABILITY_BUFFERED:
		ns.Durability = meta.DurabilityBuffered
	default:
		return meta.Namespace{}, errs.Invalid("durability", "unknown durability %d", p.GetDurability())
	}
	return ns, nil
}

func namespaceToProto(ns meta.Namespace) *adminv1.Namespace {
	d := adminv1.Durability_DURABILITY_SYNC
	if ns.Durability == meta.DurabilityBuffered {
		d = adminv1.Durability_DURABILITY_BUFFERED
	}
	return &adminv1.Namespace{
		Name: ns.Name, N: ns.N, R: ns.R, W: ns.W, Dw: ns.DW, Durability: d,
		Limits: &adminv1.Limits{
			MaxValueBytes:   uint32(ns.Limits.MaxValueBytes), // at most meta.CeilingValueSize
			MaxKeyBytes:     ns.Limits.MaxKeyBytes,
			MaxSiblings:     ns.Limits.MaxSiblings,
			ReadsPerSecond:  ns.Limits.ReadsPerSecond,
			WritesPerSecond: ns.Limits.WritesPerSecond,

			MaxStoredBytes:         ns.Limits.MaxStoredBytes,
			MaxKeys:                ns.Limits.MaxKeys,
			ResolverCpuMsPerSecond: ns.Limits.ResolverCPUMsPerSecond,
			ResolverConcurrency:    ns.Limits.ResolverConcurrency,
			WriteBytesPerSecond:    ns.Limits.WriteBytesPerSecond,
		},
		CreatedAt: timestamppb.New(ns.CreatedAt),
		Resolver:  resolverToProto(ns.Resolver),
	}
}
