package node

import (
	"context"

	"github.com/concord-kv/concord/engine/meta"
)

// ApplyNamespaceDoc takes a namespace document as if gossip had brought it
// (tests of incarnations that arrive out of order).
func (n *Node) ApplyNamespaceDoc(ns meta.Namespace) (bool, error) { return n.meta.Apply(ns) }

// SetResolverUnchecked attaches a module without the law checks, for tests
// of what a resolver that misbehaves at run time cannot do (a module can
// pass the checks on its samples and still loop on other input).
func (n *Node) SetResolverUnchecked(ctx context.Context, ns string, wasm []byte, r meta.Resolver) (meta.Namespace, error) {
	caps := n.ClusterSettings()
	r = r.WithCappedDefaults(caps)
	if err := r.Validate(caps); err != nil {
		return meta.Namespace{}, err
	}
	mod, err := n.registry.Runtime().Compile(ctx, wasm)
	if err != nil {
		return meta.Namespace{}, err
	}
	return n.setResolver(ctx, ns, wasm, mod, r)
}
