package server

import (
	"context"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/laws"
)

// maxSamples bounds the sample values of an upload.
const maxSamples = 1000

// checkLaws compiles a module (an invalid one is INVALID_ARGUMENT with the
// reason) and runs the upload checks on the samples. A built-in needs no
// samples: it is checked in concord's own tests.
func (s *adminService) checkLaws(ctx context.Context, namespace string, wasm, config []byte, samples [][]byte, isBuiltin bool) (*adminv1.LawReport, error) {
	mod, err := s.node.Runtime().Compile(ctx, wasm)
	if err != nil {
		return nil, errs.Invalid("module", "%v", err)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	switch {
	case len(samples) == 0 && isBuiltin:
		return &adminv1.LawReport{Passed: []string{string(laws.LawABI)}, Text: "built-in resolver: its laws are checked by concord's own tests"}, nil
	case len(samples) == 0:
		return nil, errs.Invalid("samples", "give sample values (typical values of the namespace) so the server can check the module's merge laws before it activates it")
	case len(samples) > maxSamples:
		return nil, &errs.LimitError{Limit: "max_samples", Max: maxSamples, Actual: uint64(len(samples))}
	}
	ss := make([]laws.Sample, len(samples))
	for i, v := range samples {
		ss[i] = v
	}
	rep, err := laws.Check(ctx, s.node.Runtime(), mod, ss, laws.Options{Namespace: namespace, Config: config, Limits: resolvers.Limits{Deadline: meta.MaxResolverDeadline / 10}})
	if err != nil {
		return nil, err
	}
	return LawReportToProto(rep), nil
}

// LawReportToProto turns a law report into its API form.
func LawReportToProto(r laws.Report) *adminv1.LawReport {
	out := &adminv1.LawReport{Checked: uint32(r.Checked), Refused: r.Refused(), Text: r.String()}
	for _, l := range r.Passed {
		out.Passed = append(out.Passed, string(l))
	}
	for _, v := range r.Violations {
		out.Violations = append(out.Violations, &adminv1.LawViolation{
			Law: string(v.Law), Input: v.Input, Tombstones: v.Tombstones, Got: v.Got, Want: v.Want, Detail: v.Detail,
		})
	}
	return out
}

func (s *adminService) shortHash(wasm []byte) string { return node.ModuleHash(wasm)[:12] }
