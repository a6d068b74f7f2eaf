package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// adminService adapts the metadata store to adminv1connect.AdminServiceHandler.
type adminService struct {
	node *node.Node
	meta *meta.Store
}

var _ adminv1connect.AdminServiceHandler = (*adminService)(nil)

func (s *adminService) CreateNamespace(_ context.Context, req *adminv1.CreateNamespaceRequest) (*adminv1.CreateNamespaceResponse, error) {
	if req.GetNamespace() == nil {
		return nil, errs.Invalid("namespace", "namespace is required")
	}
	ns, err := namespaceFromProto(req.GetNamespace())
	if err == nil {
		err = checkBufferedDW(ns.WithDefaults(s.meta.Defaults()), ns.DW)
	}
	if err == nil {
		ns, err = s.meta.Create(ns)
	}
	if err != nil {
		return nil, err
	}
	return &adminv1.CreateNamespaceResponse{Namespace: namespaceToProto(ns)}, nil
}

func (s *adminService) GetNamespace(_ context.Context, req *adminv1.GetNamespaceRequest) (*adminv1.GetNamespaceResponse, error) {
	ns, err := s.meta.Get(req.GetName())
	if err != nil {
		return nil, err
	}
	return &adminv1.GetNamespaceResponse{Namespace: namespaceToProto(ns)}, nil
}

func (s *adminService) ListNamespaces(context.Context, *adminv1.ListNamespacesRequest) (*adminv1.ListNamespacesResponse, error) {
	out := &adminv1.ListNamespacesResponse{}
	for _, ns := range s.meta.List() {
		out.Namespaces = append(out.Namespaces, namespaceToProto(ns))
	}
	return out, nil
}

func (s *adminService) UpdateNamespace(_ context.Context, req *adminv1.UpdateNamespaceRequest) (*adminv1.UpdateNamespaceResponse, error) {
	in := req.GetNamespace()
	if in == nil {
		return nil, errs.Invalid("namespace", "namespace is required")
	}
	cur, err := s.meta.Get(in.GetName())
	if err != nil {
		return nil, err
	}
	next, err := applyMask(cur, in, req.GetUpdateMask())
	// dw is set when the mask names it, or (no mask) when it differs: a
	// namespace read and sent back whole keeps its inert dw.
	if err == nil && (slices.Contains(req.GetUpdateMask(), "dw") || (len(req.GetUpdateMask()) == 0 && in.GetDw() != cur.DW)) {
		err = checkBufferedDW(next, in.GetDw())
	}
	if err == nil {
		next, err = s.meta.Update(next)
	}
	if err != nil {
		return nil, err
	}
	return &adminv1.UpdateNamespaceResponse{Namespace: namespaceToProto(next)}, nil
}

func (s *adminService) DeleteNamespace(_ context.Context, req *adminv1.DeleteNamespaceRequest) (*adminv1.DeleteNamespaceResponse, error) {
	if err := s.meta.Delete(req.GetName()); err != nil {
		return nil, err
	}
	return &adminv1.DeleteNamespaceResponse{}, nil
}

// checkBufferedDW refuses a dw given explicitly for a namespace that is
// buffered: its replicas acknowledge writes from the write-ahead log
// buffer, so there is no durable acknowledgement to wait for. The dw a
// buffered namespace keeps (filled from the defaults, or from when it was
// sync) has no effect until it is made sync again.
func checkBufferedDW(ns meta.Namespace, dw uint32) error {
	if dw == 0 || ns.Durability != meta.DurabilityBuffered {
		return nil
	}
	return errs.Invalid("dw", "namespace %q is buffered: its replicas acknowledge writes before they reach disk, so there is no durable acknowledgement to wait for; leave dw out, or make the namespace sync (durability sync)", ns.Name)
}

// maskable lists the fields UpdateNamespace can change and how to copy each.
var maskable = map[string]func(dst *meta.Namespace, src meta.Namespace){
	"r":                      func(d *meta.Namespace, s meta.Namespace) { d.R = s.R },
	"w":                      func(d *meta.Namespace, s meta.Namespace) { d.W = s.W },
	"dw":                     func(d *meta.Namespace, s meta.Namespace) { d.DW = s.DW },
	"durability":             func(d *meta.Namespace, s meta.Namespace) { d.Durability = s.Durability },
	"limits.max_value_bytes": func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxValueBytes = s.Limits.MaxValueBytes },
	"limits.max_key_bytes":   func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxKeyBytes = s.Limits.MaxKeyBytes },
	"limits.max_siblings":    func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxSiblings = s.Limits.MaxSiblings },
}

// applyMask copies the masked fields of in onto cur; an empty mask copies
// every non-zero field.
func applyMask(cur meta.Namespace, in *adminv1.Namespace, mask []string) (meta.Namespace, error) {
	src, err := namespaceFromProto(in)
	if err != nil {
		return meta.Namespace{}, err
	}
	if len(mask) == 0 {
		next := src.WithDefaults(meta.Defaults{N: cur.N, R: cur.R, W: cur.W, DW: cur.DW, Durability: cur.Durability, Limits: cur.Limits})
		next.Resolver = cur.Resolver // resolvers change only through the resolver calls
		return next, nil
	}
	next := cur
	for _, f := range mask {
		set, ok := maskable[f]
		if !ok {
			return meta.Namespace{}, errs.Invalid("update_mask", "%q cannot be updated; updatable fields: r, w, dw, durability, limits.max_value_bytes, limits.max_key_bytes, limits.max_siblings", f)
		}
		set(&next, src)
	}
	return next, nil
}

func namespaceFromProto(p *adminv1.Namespace) (meta.Namespace, error) {
	ns := meta.Namespace{
		Name: p.GetName(), N: p.GetN(), R: p.GetR(), W: p.GetW(), DW: p.GetDw(),
		Limits: meta.Limits{
			MaxValueBytes: p.GetLimits().GetMaxValueBytes(),
			MaxKeyBytes:   p.GetLimits().GetMaxKeyBytes(),
			MaxSiblings:   p.GetLimits().GetMaxSiblings(),
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
	if err := meta.ValidateName(ns.Name); err != nil {
		return meta.Namespace{}, err
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
			MaxValueBytes: ns.Limits.MaxValueBytes,
			MaxKeyBytes:   ns.Limits.MaxKeyBytes,
			MaxSiblings:   ns.Limits.MaxSiblings,
		},
		CreatedAt: timestamppb.New(ns.CreatedAt),
		Resolver:  resolverToProto(ns.Resolver),
	}
}
