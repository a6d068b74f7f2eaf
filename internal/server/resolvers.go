package server

import (
	"context"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func modeFromProto(m adminv1.ResolverMode) (meta.ResolverMode, error) {
	switch m {
	case adminv1.ResolverMode_RESOLVER_MODE_UNSPECIFIED, adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE:
		return meta.ModeOnWrite, nil
	case adminv1.ResolverMode_RESOLVER_MODE_ON_READ:
		return meta.ModeOnRead, nil
	case adminv1.ResolverMode_RESOLVER_MODE_CLIENT:
		return meta.ModeClient, nil
	}
	return 0, errs.Invalid("mode", "unknown resolver mode %d", m)
}

func modeToProto(m meta.ResolverMode) adminv1.ResolverMode {
	switch m {
	case meta.ModeClient:
		return adminv1.ResolverMode_RESOLVER_MODE_CLIENT
	case meta.ModeOnRead:
		return adminv1.ResolverMode_RESOLVER_MODE_ON_READ
	case meta.ModeOnWrite:
		return adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE
	}
	return adminv1.ResolverMode_RESOLVER_MODE_UNSPECIFIED
}

func resolverToProto(r *meta.Resolver) *adminv1.Resolver {
	if r == nil {
		return nil
	}
	return &adminv1.Resolver{
		Name: r.Name, ModuleSha256: r.Hash, Mode: modeToProto(r.Mode), Config: r.Config,
		WriteDeadlineMs: uint32(r.WriteDeadline / time.Millisecond), ReadDeadlineMs: uint32(r.ReadDeadline / time.Millisecond),
		MemoryPages: r.MemoryPages, ModuleBytes: r.ModuleBytes,
	}
}

func (s *adminService) UploadResolver(ctx context.Context, req *adminv1.UploadResolverRequest) (*adminv1.UploadResolverResponse, error) {
	mode, err := modeFromProto(req.GetMode())
	if err != nil {
		return nil, err
	}
	ns, report, err := s.node.ActivateResolver(ctx, node.ResolverUpload{
		Namespace: req.GetNamespace(), Module: req.GetModule(), Builtin: req.GetBuiltin(), Samples: req.GetSamples(),
		Resolver: meta.Resolver{
			Name: req.GetName(), Mode: mode, Config: req.GetConfig(),
			WriteDeadline: time.Duration(req.GetWriteDeadlineMs()) * time.Millisecond,
			ReadDeadline:  time.Duration(req.GetReadDeadlineMs()) * time.Millisecond,
			MemoryPages:   req.GetMemoryPages(),
		},
	})
	if err != nil {
		return nil, err
	}
	return &adminv1.UploadResolverResponse{Namespace: namespaceToProto(ns), Report: lawReportToProto(report)}, nil
}

func (s *adminService) TestResolver(ctx context.Context, req *adminv1.TestResolverRequest) (*adminv1.TestResolverResponse, error) {
	report, err := s.node.CheckResolver(ctx, node.ResolverUpload{
		Module: req.GetModule(), Builtin: req.GetBuiltin(), Samples: req.GetSamples(),
		Resolver: meta.Resolver{Config: req.GetConfig()},
	})
	if err != nil {
		return nil, err
	}
	return &adminv1.TestResolverResponse{Report: lawReportToProto(report)}, nil
}

func (s *adminService) ListResolvers(context.Context, *adminv1.ListResolversRequest) (*adminv1.ListResolversResponse, error) {
	stats := map[string]*adminv1.NamespaceResolver{}
	for _, st := range s.node.ResolverStats() {
		var failures uint64
		for _, n := range st.Stats.Failures {
			failures += n
		}
		stats[st.Namespace] = &adminv1.NamespaceResolver{Calls: st.Stats.Calls, Failures: failures, Breaker: st.Stats.Breaker.String()}
	}
	out := &adminv1.ListResolversResponse{}
	for _, ns := range s.node.Namespaces() {
		if ns.Resolver == nil {
			continue
		}
		nr := stats[ns.Name]
		if nr == nil {
			nr = &adminv1.NamespaceResolver{Breaker: "closed"}
		}
		nr.Namespace, nr.Resolver = ns.Name, resolverToProto(ns.Resolver)
		out.Resolvers = append(out.Resolvers, nr)
	}
	return out, nil
}

func (s *adminService) DeleteResolver(_ context.Context, req *adminv1.DeleteResolverRequest) (*adminv1.DeleteResolverResponse, error) {
	ns, err := s.node.ClearResolver(req.GetNamespace())
	if err != nil {
		return nil, err
	}
	return &adminv1.DeleteResolverResponse{Namespace: namespaceToProto(ns)}, nil
}
