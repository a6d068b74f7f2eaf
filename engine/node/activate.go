package node

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
	"github.com/concord-kv/concord/resolvers/laws"
)

// Resolver activation. A module becomes a namespace's resolver only after
// it passed the law checks on the uploader's samples: replicas resolve the
// same siblings independently, so a merge that depends on the order of its
// input or on the instance would make them diverge. The module is compiled
// once; the checks run on that compilation and the node keeps it.

// MaxResolverSamples bounds the sample values of an upload.
const MaxResolverSamples = 1000

// ResolverUpload is a resolver to check ([Node.CheckResolver]) or to check
// and activate ([Node.ActivateResolver]).
type ResolverUpload struct {
	// Namespace is the namespace the resolver is for. CheckResolver accepts
	// an empty one.
	Namespace string
	// Module is a WebAssembly module of ABI v1, at most
	// [resolvers.MaxModuleBytes]. Builtin names a built-in module instead;
	// exactly one of the two is given.
	Module  []byte
	Builtin string
	// Samples are typical values of the namespace: the law checks merge
	// sibling sets drawn from them. A module needs 1 to
	// [MaxResolverSamples]; a built-in needs none (concord's own tests
	// check its laws), and with none only its ABI is checked.
	Samples [][]byte
	// Resolver holds the settings: mode, config, deadlines, memory pages
	// (defaults from [meta.Resolver.WithDefaults]) and name (default: the
	// built-in's name, or "sha256:" and the first 12 hex digits of the
	// module's hash). Hash and ModuleBytes are the node's to set.
	Resolver meta.Resolver
}

// ResolverReport is what the upload checks found.
type ResolverReport struct {
	laws.Report
	// Builtin is set when a built-in came without samples: only its ABI was
	// checked here.
	Builtin bool
}

// String is the report for the uploader.
func (r ResolverReport) String() string {
	if r.Builtin {
		return "built-in resolver: its laws are checked by concord's own tests"
	}
	return r.Report.String()
}

// ResolverRefusedError is the answer to an upload whose module broke a law
// that refuses it (determinism, order-insensitivity). Report has the law
// and the input that broke it.
type ResolverRefusedError struct{ Report ResolverReport }

func (e *ResolverRefusedError) Error() string {
	return "the resolver failed the upload checks:\n" + e.Report.String()
}

// CheckResolver runs the upload checks without activating anything. A
// module that breaks a law is a report, not an error; an invalid upload
// (no module, not WebAssembly, no samples) is an errs.InvalidError.
func (n *Node) CheckResolver(ctx context.Context, u ResolverUpload) (ResolverReport, error) {
	wasm, err := uploadedModule(u)
	if err != nil {
		return ResolverReport{}, err
	}
	mod, report, err := n.checkModule(ctx, u, wasm)
	if err != nil {
		return ResolverReport{}, err
	}
	_ = mod.Close(context.WithoutCancel(ctx))
	return report, nil
}

// ActivateResolver checks an upload and, if no law refuses it, makes it the
// namespace's resolver on every node: the module is kept in this node's
// store (other nodes fetch it by hash when they first need it) and the
// namespace's new settings spread through gossip. A refused module is a
// [*ResolverRefusedError] and changes nothing.
func (n *Node) ActivateResolver(ctx context.Context, u ResolverUpload) (meta.Namespace, ResolverReport, error) {
	wasm, err := uploadedModule(u)
	if err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	if _, err := n.meta.Get(u.Namespace); err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	r := u.Resolver.WithDefaults()
	if err := r.Validate(); err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	mod, report, err := n.checkModule(ctx, u, wasm)
	if err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	if report.Refused() {
		_ = mod.Close(context.WithoutCancel(ctx))
		return meta.Namespace{}, report, &ResolverRefusedError{Report: report}
	}
	switch {
	case r.Name != "":
	case u.Builtin != "":
		r.Name = u.Builtin
	default:
		r.Name = "sha256:" + ModuleHash(wasm)[:12]
	}
	ns, err := n.setResolver(ctx, u.Namespace, wasm, mod, r)
	return ns, report, err
}

// uploadedModule returns the module bytes of an upload: a built-in's, or
// the given ones.
func uploadedModule(u ResolverUpload) ([]byte, error) {
	switch {
	case u.Builtin != "" && len(u.Module) > 0:
		return nil, errs.Invalid("source", "give either a module or a built-in name, not both")
	case u.Builtin != "":
		wasm, ok := builtin.Module(u.Builtin)
		if !ok {
			return nil, errs.Invalid("builtin", "no built-in resolver %q; built-ins: %v", u.Builtin, builtin.Names())
		}
		return wasm, nil
	case len(u.Module) == 0:
		return nil, errs.Invalid("module", "the module is empty: upload a WebAssembly module or name a built-in (%v)", builtin.Names())
	case len(u.Module) > resolvers.MaxModuleBytes:
		return nil, &errs.LimitError{Limit: "max_module_bytes", Max: resolvers.MaxModuleBytes, Actual: uint64(len(u.Module))}
	}
	return u.Module, nil
}

// checkModule compiles wasm (an invalid module is an errs.InvalidError with
// the reason) and runs the law checks on the upload's samples. The caller
// owns the compiled module.
func (n *Node) checkModule(ctx context.Context, u ResolverUpload, wasm []byte) (*resolvers.Module, ResolverReport, error) {
	rt := n.resolvers.rt
	mod, err := rt.Compile(ctx, wasm)
	if err != nil {
		return nil, ResolverReport{}, errs.Invalid("module", "%v", err)
	}
	report, err := checkLaws(ctx, rt, mod, u)
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return nil, ResolverReport{}, err
	}
	return mod, report, nil
}

// checkLaws runs the law checks of a compiled module on the upload's
// samples.
func checkLaws(ctx context.Context, rt *resolvers.Runtime, mod *resolvers.Module, u ResolverUpload) (ResolverReport, error) {
	switch {
	case len(u.Samples) == 0 && u.Builtin != "": // compiled, so its ABI is right
		return ResolverReport{Report: laws.Report{Passed: []laws.Law{laws.LawABI}}, Builtin: true}, nil
	case len(u.Samples) == 0:
		return ResolverReport{}, errs.Invalid("samples", "give sample values (typical values of the namespace) so the server can check the module's merge laws before it activates it")
	case len(u.Samples) > MaxResolverSamples:
		return ResolverReport{}, &errs.LimitError{Limit: "max_samples", Max: MaxResolverSamples, Actual: uint64(len(u.Samples))}
	}
	samples := make([]laws.Sample, len(u.Samples))
	for i, v := range u.Samples {
		samples[i] = v
	}
	rep, err := laws.Check(ctx, rt, mod, samples, laws.Options{
		Namespace: u.Namespace,
		Config:    u.Resolver.Config,
		Limits:    resolvers.Limits{Deadline: meta.MaxResolverDeadline / 10},
	})
	if err != nil {
		return ResolverReport{}, fmt.Errorf("node: law checks: %w", err)
	}
	return ResolverReport{Report: rep}, nil
}
