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
//
// Each namespace has a resolver budget on each node (budget.go): its
// calls' running time, charged to a bucket of resolver_cpu_ms_per_second,
// and at most resolver_concurrency calls at once (a call waits at most
// [QueueWait] for a slot). A call over budget is not made: ok is false,
// the siblings are kept (a write stores them, a read answers them
// unmerged), and it counts as a failure of kind resolvers.KindBudget,
// which the breaker ignores.
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
	// The namespace's resolver budget on this node: over its CPU time or
	// its concurrency, the call is skipped and the siblings kept.
	perSecond, concurrency := r.budget(ns)
	end, allowed := r.gate(ns.Name).acquire(ctx, r.cfg.Now(), perSecond, concurrency, min(QueueWait, deadline), deadline)
	if !allowed {
		return dvv.Sibling{}, false
	}
	// The deadline is the module's own: running past it counts toward
	// the breaker. ctx ending first (the client gave up) does not.
	start := r.cfg.Now()
	res, err := p.ResolveWithin(ctx, in, deadline)
	ran := r.cfg.Now().Sub(start)
	end(ran)
	if r.cfg.Resolved != nil {
		r.cfg.Resolved(ns.Name, ran)
	}
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
