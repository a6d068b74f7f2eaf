package registry

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
	"github.com/concord-kv/concord/resolvers/laws"
)

// Upload checks. A module becomes a namespace's resolver only after it
// passed the law checks on the uploader's samples: replicas resolve the
// same siblings independently, so a merge that depends on the order of its
// input or on the instance would make them diverge. The module is compiled
// once; the checks run on that compilation and the registry keeps it
// ([Registry.Adopt]).

// MaxSamples bounds the sample values of an upload.
const MaxSamples = 1000

// Upload is a resolver to check ([Registry.Check]) or to check
// and activate (activation).
type Upload struct {
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
	// [MaxSamples]; a built-in needs none (concord's own tests
	// check its laws), and with none only its ABI is checked.
	Samples [][]byte
	// Resolver holds the settings: mode, config, deadlines, memory pages
	// (defaults from [meta.Resolver.WithDefaults]) and name (default: the
	// built-in's name, or "sha256:" and the first 12 hex digits of the
	// module's hash). Hash and ModuleBytes are the node's to set.
	Resolver meta.Resolver
}

// Report is what the upload checks found.
type Report struct {
	laws.Report
	// Builtin is set when a built-in came without samples: only its ABI was
	// checked here.
	Builtin bool
}

// String is the report for the uploader.
func (r Report) String() string {
	if r.Builtin {
		return "built-in resolver: its laws are checked by concord's own tests"
	}
	return r.Report.String()
}

// RefusedError is the answer to an upload whose module broke a law
// that refuses it (determinism, order-insensitivity). Report has the law
// and the input that broke it.
type RefusedError struct{ Report Report }

func (e *RefusedError) Error() string {
	return "the resolver failed the upload checks:\n" + e.Report.String()
}

// ModuleOf returns the module bytes of an upload: a built-in's, or
// the given ones.
func ModuleOf(u Upload) ([]byte, error) {
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

// Check compiles wasm (an invalid module is an errs.InvalidError with
// the reason) and runs the law checks on the upload's samples. The caller
// owns the compiled module.
func (r *Registry) Check(ctx context.Context, u Upload, wasm []byte) (*resolvers.Module, Report, error) {
	rt := r.cfg.Runtime
	mod, err := rt.Compile(ctx, wasm)
	if err != nil {
		return nil, Report{}, errs.Invalid("module", "%v", err)
	}
	report, err := checkLaws(ctx, rt, mod, u)
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return nil, Report{}, err
	}
	return mod, report, nil
}

// checkLaws runs the law checks of a compiled module on the upload's
// samples.
func checkLaws(ctx context.Context, rt *resolvers.Runtime, mod *resolvers.Module, u Upload) (Report, error) {
	switch {
	case len(u.Samples) == 0 && u.Builtin != "": // compiled, so its ABI is right
		return Report{Report: laws.Report{Passed: []laws.Law{laws.LawABI}}, Builtin: true}, nil
	case len(u.Samples) == 0:
		return Report{}, errs.Invalid("samples", "give sample values (typical values of the namespace) so the server can check the module's merge laws before it activates it")
	case len(u.Samples) > MaxSamples:
		return Report{}, &errs.LimitError{Limit: "max_samples", Max: MaxSamples, Actual: uint64(len(u.Samples))}
	}
	samples := make([]laws.Sample, len(u.Samples))
	for i, v := range u.Samples {
		samples[i] = v
	}
	// The checks run under the limits the module will run under: a module
	// that needs more memory or time than the namespace gives it fails
	// here, not on every write.
	res := u.Resolver.WithDefaults()
	limits := resolvers.Limits{Deadline: min(res.WriteDeadline, res.ReadDeadline), MemoryPages: res.MemoryPages}
	if err := rt.CheckLimits(limits); err != nil {
		return Report{}, errs.Invalid("memory_pages", "%v", err)
	}
	rep, err := laws.Check(ctx, rt, mod, samples, laws.Options{
		Namespace: u.Namespace,
		Config:    u.Resolver.Config,
		Limits:    limits,
	})
	if err != nil {
		return Report{}, fmt.Errorf("registry: law checks: %w", err)
	}
	return Report{Report: rep}, nil
}
