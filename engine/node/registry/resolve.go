package registry

import (
	"context"
	"errors"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// Resolve runs the namespace's resolver over an object's siblings and
// returns the merged sibling, which the caller collapses the object to
// deterministically (dvv.Object.Resolve) under an actor of its choice. It
// never fetches or compiles (see [Registry.Prepare]). On any failure ok is
// false and the caller keeps the siblings: they are never lost to a
// resolver.
func (r *Registry) Resolve(ctx context.Context, ns meta.Namespace, key []byte, obj dvv.Object, deadline time.Duration) (merged dvv.Sibling, ok bool) {
	if ns.Resolver == nil || ns.Resolver.Mode == meta.ModeClient || obj.Len() < 2 {
		return dvv.Sibling{}, false
	}
	sibs := obj.Siblings()
	var stamp int64
	for _, s := range sibs {
		stamp = max(stamp, s.Timestamp)
	}
	if obj.Distinct() == 1 { // every sibling shows the same: no call needed
		return dvv.Sibling{Value: sibs[0].Value, Tombstone: sibs[0].Tombstone, Timestamp: stamp}, true
	}
	p, err := r.pool(ctx, ns)
	if err != nil {
		r.failed(ns, err)
		return dvv.Sibling{}, false
	}
	in := abi.Input{Namespace: ns.Name, Key: key, Siblings: make([]abi.Sibling, len(sibs))}
	for i, s := range sibs {
		in.Siblings[i] = abi.Sibling{Value: s.Value, Tombstone: s.Tombstone, Timestamp: s.Timestamp}
	}
	// The deadline is the module's own: running past it counts toward
	// the breaker. ctx ending first (the client gave up) does not.
	res, err := p.ResolveWithin(ctx, in, deadline)
	if err != nil {
		r.failed(ns, err)
		return dvv.Sibling{}, false
	}
	switch res.Status {
	case abi.StatusOK:
		merged = dvv.Sibling{Value: res.Value, Timestamp: stamp}
		if merged.Value == nil {
			merged.Value = []byte{}
		}
	case abi.StatusDelete:
		merged = dvv.Sibling{Value: []byte{}, Tombstone: true, Timestamp: stamp}
	default: // DEFER: the resolver chose to keep the siblings
		return dvv.Sibling{}, false
	}
	r.resolved.Add(1)
	return merged, true
}

func (r *Registry) failed(ns meta.Namespace, err error) {
	r.failures.Add(1)
	var ce *resolvers.CallError
	// The pool logs its call failures itself, with the namespace and the
	// module; an open breaker is logged when it opens.
	if !errors.Is(err, resolvers.ErrBreakerOpen) && !errors.As(err, &ce) {
		r.cfg.Logger.Warn("resolver failed; siblings kept", "namespace", ns.Name, "resolver", ns.Resolver.Name, "err", err)
	}
}
