package node

import (
	"context"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/registry"
	"github.com/concord-kv/concord/resolvers"
)

// Resolver activation. A module becomes a namespace's resolver only after
// it passed the law checks on the uploader's samples (package registry
// runs them on the one compilation it then keeps).

// MaxResolverSamples bounds the sample values of an upload.
const MaxResolverSamples = registry.MaxSamples

type (
	// ResolverUpload is a resolver to check or activate ([registry.Upload]).
	ResolverUpload = registry.Upload
	// ResolverReport is what the upload checks found ([registry.Report]).
	ResolverReport = registry.Report
	// ResolverRefusedError is the answer to an upload a law refuses
	// ([registry.RefusedError]).
	ResolverRefusedError = registry.RefusedError
	// ResolverStats is a namespace resolver's counters ([registry.Stats]).
	ResolverStats = registry.Stats
)

// ModuleHash is the hex SHA-256 that names a module.
func ModuleHash(wasm []byte) string { return registry.ModuleHash(wasm) }

// StoreModule keeps a module's bytes in this node's store, by hash.
func (n *Node) StoreModule(wasm []byte) (string, error) {
	hash, err := n.registry.StoreModule(wasm)
	if err != nil {
		return "", n.storageFailed("store module", err)
	}
	return hash, nil
}

// ResolverStats returns the pools' statistics.
func (n *Node) ResolverStats() []ResolverStats { return n.registry.Stats() }

// CheckResolver runs the upload checks without activating anything. A
// module that breaks a law is a report, not an error; an invalid upload
// (no module, not WebAssembly, no samples) is an errs.InvalidError.
func (n *Node) CheckResolver(ctx context.Context, u ResolverUpload) (ResolverReport, error) {
	wasm, err := registry.ModuleOf(u)
	if err != nil {
		return ResolverReport{}, err
	}
	u.Resolver = u.Resolver.WithCappedDefaults(n.ClusterSettings())
	mod, report, err := n.registry.Check(ctx, u, wasm)
	if err != nil {
		return ResolverReport{}, err
	}
	_ = mod.Close(context.WithoutCancel(ctx))
	return report, nil
}

// ActivateResolver checks an upload and, if no law refuses it, makes it the
// namespace's resolver. Its deadlines and memory must fit the cluster's caps
// (max_resolver_deadline_ms, max_resolver_memory_pages: an
// *errs.LimitError); left unset, they take their defaults lowered to the
// caps. The checks run under those limits. If the module passes, it becomes the
// namespace's resolver on every node: the module is kept in this node's
// store (other nodes fetch it by hash when they first need it) and the
// namespace's new settings spread through gossip. A refused module is a
// [*ResolverRefusedError] and changes nothing.
func (n *Node) ActivateResolver(ctx context.Context, u ResolverUpload) (meta.Namespace, ResolverReport, error) {
	wasm, err := registry.ModuleOf(u)
	if err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	if _, err := n.meta.Get(u.Namespace); err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	caps := n.ClusterSettings()
	r := u.Resolver.WithCappedDefaults(caps)
	if err := r.Validate(caps); err != nil {
		return meta.Namespace{}, ResolverReport{}, err
	}
	u.Resolver = r // the law checks run under the limits the resolver will have
	mod, report, err := n.registry.Check(ctx, u, wasm)
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

// setResolver makes wasm, compiled as mod (which the node now owns), the
// namespace's resolver with the settings r, already validated.
func (n *Node) setResolver(ctx context.Context, nsName string, wasm []byte, mod *resolvers.Module, r meta.Resolver) (meta.Namespace, error) {
	ns, err := n.meta.Get(nsName)
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return meta.Namespace{}, err
	}
	if r.Hash, err = n.registry.Adopt(ctx, wasm, mod); err != nil {
		return meta.Namespace{}, n.storageFailed("store module", err)
	}
	r.ModuleBytes = uint64(len(wasm))
	ns.Resolver = &r
	return n.meta.Update(ns)
}

// ClearResolver returns a namespace to client-side resolution.
func (n *Node) ClearResolver(nsName string) (meta.Namespace, error) {
	ns, err := n.meta.Get(nsName)
	if err != nil {
		return meta.Namespace{}, err
	}
	ns.Resolver = nil
	return n.meta.Update(ns)
}
