package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func (s *adminService) GetNamespaceStats(context.Context, *adminv1.GetNamespaceStatsRequest) (*adminv1.GetNamespaceStatsResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("GetNamespaceStats is not implemented yet"))
}
