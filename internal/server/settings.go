package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func (s *adminService) GetClusterSettings(context.Context, *adminv1.GetClusterSettingsRequest) (*adminv1.GetClusterSettingsResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("GetClusterSettings is not implemented yet"))
}

func (s *adminService) UpdateClusterSettings(context.Context, *adminv1.UpdateClusterSettingsRequest) (*adminv1.UpdateClusterSettingsResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("UpdateClusterSettings is not implemented yet"))
}
