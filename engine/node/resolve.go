package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/builtin"
)

// resolverSet holds the compiled modules and instance pools of the
// namespaces' resolvers on this node. Pools are per (namespace, module,
// limits) and never shared between namespaces.
type resolverSet struct {
	rt *resolvers.Runtime

	mu      sync.Mutex
	modules map[string]*resolvers.Module // by hex sha256
	pools   map[string]*resolvers.Pool   // by namespace
	keys    map[string]string            // namespace → settings the pool was built for

	failures atomic.Int64 // resolutions that failed and kept the siblings
	resolved atomic.Int64 // resolutions applied
}

func newResolverSet(rt *resolvers.Runtime) *resolverSet {
	return &resolverSet{rt: rt, modules: map[string]*resolvers.Module{}, pools: map[string]*resolvers.Pool{}, keys: map[string]string{}}
}

// ModuleHash is the hex SHA-256 that names a module.
func ModuleHash(wasm []byte) string {
	h := sha256.Sum256(wasm)
	return hex.EncodeToString(h[:])
}

// StoreModule keeps a module's bytes in this node's store, by hash.
func (n *Node) StoreModule(wasm []byte) (string, error) {
	hash := ModuleHash(wasm)
	var b storage.Batch
	b.Set(keys.Meta("module", hash), wasm)
	if err := n.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return "", n.storageFailed("store module", err)
	}
	return hash, nil
}

// moduleBytes returns a module by hash: a built-in, this node's copy, or one
// fetched from a peer (and checked against the hash).
func (n *Node) moduleBytes(ctx context.Context, hash string) ([]byte, error) {
	for _, name := range builtin.Names() {
		if wasm, _ := builtin.Module(name); ModuleHash(wasm) == hash {
			return wasm, nil
		}
	}
	if wasm, err := n.eng.Get(keys.Meta("module", hash)); err == nil {
		return wasm, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	for _, m := range n.Members() {
		if n.peers == nil || m.ID == n.id || !n.Alive(m.ID) {
			continue
		}
		wasm, err := n.peers.FetchModule(ctx, m.ID, hash)
		if err != nil || len(wasm) == 0 || ModuleHash(wasm) != hash {
			continue
		}
		if _, err := n.StoreModule(wasm); err != nil {
			return nil, err
		}
		return wasm, nil
	}
	return nil, fmt.Errorf("node: module %s is on no reachable node", hash)
}

// FetchModule implements peer.Local.
func (n *Node) FetchModule(_ context.Context, hash string) ([]byte, error) {
	wasm, err := n.eng.Get(keys.Meta("module", hash))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, n.storageFailed("fetch module", err)
	}
	return wasm, nil
}

// compile returns the compiled module of a hash, compiling it once.
func (n *Node) compile(ctx context.Context, hash string) (*resolvers.Module, error) {
	rs := n.resolvers
	rs.mu.Lock()
	mod, ok := rs.modules[hash]
	rs.mu.Unlock()
	if ok {
		return mod, nil
	}
	wasm, err := n.moduleBytes(ctx, hash)
	if err != nil {
		return nil, err
	}
	mod, err = rs.rt.Compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if cur, ok := rs.modules[hash]; ok {
		return cur, nil
	}
	rs.modules[hash] = mod
	return mod, nil
}

// pool returns the instance pool of a namespace's resolver.
func (n *Node) pool(ctx context.Context, ns meta.Namespace) (*resolvers.Pool, error) {
	r := ns.Resolver
	key := fmt.Sprintf("%s/%d/%v/%v/%x/%d", r.Hash, r.MemoryPages, r.WriteDeadline, r.ReadDeadline, r.Config, ns.Limits.MaxValueBytes)
	rs := n.resolvers
	rs.mu.Lock()
	p, ok := rs.pools[ns.Name]
	current := ok && rs.keys[ns.Name] == key
	rs.mu.Unlock()
	if current {
		return p, nil
	}
	mod, err := n.compile(ctx, r.Hash)
	if err != nil {
		return nil, err
	}
	fresh := resolvers.NewPool(mod, ns.Name, r.Config, resolvers.Limits{
		Deadline:       max(r.WriteDeadline, r.ReadDeadline),
		MemoryPages:    r.MemoryPages,
		MaxOutputBytes: int(ns.Limits.MaxValueBytes),
	})
	rs.mu.Lock()
	old := rs.pools[ns.Name]
	rs.pools[ns.Name], rs.keys[ns.Name] = fresh, key
	rs.mu.Unlock()
	if old != nil {
		_ = old.Close(context.WithoutCancel(ctx))
	}
	return fresh, nil
}

// resolveSiblings runs the namespace's resolver over an object's siblings
// and returns the merged sibling, which the caller collapses the object to
// deterministically (dvv.Object.Resolve) under an actor of its choice. On
// any failure ok is false and the caller keeps the siblings: they are never
// lost to a resolver.
func (n *Node) resolveSiblings(ctx context.Context, ns meta.Namespace, key []byte, obj dvv.Object, deadline time.Duration) (merged dvv.Sibling, ok bool) {
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
	p, err := n.pool(ctx, ns)
	if err != nil {
		n.resolverFailed(ns, err)
		return dvv.Sibling{}, false
	}
	in := abi.Input{Namespace: ns.Name, Key: key, Siblings: make([]abi.Sibling, len(sibs))}
	for i, s := range sibs {
		in.Siblings[i] = abi.Sibling{Value: s.Value, Tombstone: s.Tombstone, Timestamp: s.Timestamp}
	}
	callCtx, cancel := context.WithTimeout(ctx, deadline)
	res, err := p.Resolve(callCtx, in)
	cancel()
	if err != nil {
		n.resolverFailed(ns, err)
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
	n.resolvers.resolved.Add(1)
	return merged, true
}

func (n *Node) resolverFailed(ns meta.Namespace, err error) {
	n.resolvers.failures.Add(1)
	if !errors.Is(err, resolvers.ErrBreakerOpen) {
		n.log.Warn("resolver failed; siblings kept", "namespace", ns.Name, "resolver", ns.Resolver.Name, "err", err)
	}
}

// mergeResolver is the replica store's hook at merge points (replication,
// read repair, anti-entropy, handoff, hints): on_write namespaces resolve
// there too.
// A resolution that writes a new version issues a dot, under an actor
// chosen like a coordinator's (package actor) from the local copy cur.
func (n *Node) mergeResolver(nsName string, key []byte, cur, merged dvv.Object, synced bool) dvv.Object {
	ns, err := n.liveNamespace(nsName)
	if err != nil || ns.Resolver == nil || ns.Resolver.Mode != meta.ModeOnWrite {
		return merged
	}
	sib, ok := n.resolveSiblings(n.bgCtx, ns, key, merged, ns.Resolver.WriteDeadline)
	if !ok {
		return merged
	}
	actor, err := n.actors.Pick(n.replica.Partition(nsName, key), cur, merged.Context(), synced)
	if err != nil {
		n.log.Warn("resolve at merge: no actor; siblings kept", "err", err)
		return merged
	}
	return merged.Resolve(actor, sib)
}

// ResolverStats is a namespace resolver's counters on this node.
type ResolverStats struct {
	Namespace string
	Stats     resolvers.Stats
}

// ResolverStats returns the pools' statistics.
func (n *Node) ResolverStats() []ResolverStats {
	rs := n.resolvers
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]ResolverStats, 0, len(rs.pools))
	for ns, p := range rs.pools {
		out = append(out, ResolverStats{Namespace: ns, Stats: p.Stats()})
	}
	return out
}

// setResolver makes wasm, compiled as mod (which the node now owns), the
// namespace's resolver with the settings r, already validated.
func (n *Node) setResolver(ctx context.Context, nsName string, wasm []byte, mod *resolvers.Module, r meta.Resolver) (meta.Namespace, error) {
	ns, err := n.meta.Get(nsName)
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return meta.Namespace{}, err
	}
	if r.Hash, err = n.StoreModule(wasm); err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return meta.Namespace{}, err
	}
	n.resolvers.mu.Lock()
	_, had := n.resolvers.modules[r.Hash] // pools may run the compilation held already: keep it
	if !had {
		n.resolvers.modules[r.Hash] = mod
	}
	n.resolvers.mu.Unlock()
	if had {
		_ = mod.Close(context.WithoutCancel(ctx))
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
