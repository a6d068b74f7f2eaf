package server

import (
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// lawReportToProto turns the report of a resolver's upload checks into its
// API form.
func lawReportToProto(r node.ResolverReport) *adminv1.LawReport {
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
