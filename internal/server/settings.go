package server

import (
	"context"

	"github.com/concord-kv/concord/engine/meta"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// GetClusterSettings answers the settings in force on this node, defaults
// filled in.
func (s *adminService) GetClusterSettings(context.Context, *adminv1.GetClusterSettingsRequest) (*adminv1.GetClusterSettingsResponse, error) {
	return &adminv1.GetClusterSettingsResponse{Settings: clusterSettingsToProto(s.node.ClusterSettings())}, nil
}

func (s *adminService) UpdateClusterSettings(_ context.Context, req *adminv1.UpdateClusterSettingsRequest) (*adminv1.UpdateClusterSettingsResponse, error) {
	next, err := s.node.UpdateClusterSettings(clusterSettingsFromProto(req.GetSettings()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &adminv1.UpdateClusterSettingsResponse{Settings: clusterSettingsToProto(next)}, nil
}

func clusterSettingsFromProto(p *adminv1.ClusterSettings) meta.ClusterSettings {
	return meta.ClusterSettings{
		MaxNamespaces:            p.GetMaxNamespaces(),
		MaxResolverMemoryPages:   p.GetMaxResolverMemoryPages(),
		MaxResolverDeadlineMs:    p.GetMaxResolverDeadlineMs(),
		MaxNamespaceOpsPerSecond: p.GetMaxNamespaceOpsPerSecond(),
		ResolverCPUMsPerSecond:   p.GetResolverCpuMsPerSecond(),
		HandoffObjectsPerSecond:  p.GetHandoffObjectsPerSecond(),
		HintsPerSecond:           p.GetHintsPerSecond(),
		AAEKeysPerSecond:         p.GetAaeKeysPerSecond(),
	}
}

func clusterSettingsToProto(s meta.ClusterSettings) *adminv1.ClusterSettings {
	return &adminv1.ClusterSettings{
		MaxNamespaces:            s.MaxNamespaces,
		MaxResolverMemoryPages:   s.MaxResolverMemoryPages,
		MaxResolverDeadlineMs:    s.MaxResolverDeadlineMs,
		MaxNamespaceOpsPerSecond: s.MaxNamespaceOpsPerSecond,
		ResolverCpuMsPerSecond:   s.ResolverCPUMsPerSecond,
		HandoffObjectsPerSecond:  s.HandoffObjectsPerSecond,
		HintsPerSecond:           s.HintsPerSecond,
		AaeKeysPerSecond:         s.AAEKeysPerSecond,
	}
}
