// Package registry is a node's resolver registry: the WebAssembly modules
// of the namespaces' resolvers (kept in the node's store by hash, fetched
// from another node the first time one is needed), each compiled once, and
// one instance pool per namespace.
//
// # Never under a replica lock
//
// Fetching a module (up to 8 MiB from another node) and compiling it are
// slow, so they never run while a key's lock is held: [Registry.Prepare]
// does both, bounded by a deadline and shared by concurrent callers
// (singleflight), and the write path calls it before it takes the lock
// (the KV front prepares before replica.Mutate; the node prepares before
// every replica.Merge). [Registry.Resolve], which does run under the lock
// (an on_write resolution inside the read-modify-write, or the replica
// store's merge hook), only uses a module already compiled: if there is
// none it keeps the siblings, which are never lost to a resolver. A pool's
// first call instantiates the module in the engine of its memory limit, a
// hit in the runtime's compilation cache, bounded by the call's deadline.
//
// The registry reaches other nodes through [Peers] (a subset of
// *peer.Client) and finds them through [Members], so it is tested with
// fakes.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
)

// DefaultFetchTimeout bounds fetching and compiling a module that is not
// here yet.
const DefaultFetchTimeout = 10 * time.Second

// Peers fetches modules from other nodes.
type Peers interface {
	FetchModule(ctx context.Context, from, sha256 string) ([]byte, error)
}

// Members are the nodes a module may be fetched from.
type Members interface {
	Self() string
	Members() []membership.Member
	Alive(id string) bool
}

// Config builds a Registry.
type Config struct {
	Runtime *resolvers.Runtime // the registry owns it: Close closes it
	Store   storage.Engine     // keeps modules by hash
	Peers   Peers              // nil: a single node, nothing to fetch from
	Members Members
	// FetchTimeout bounds Prepare's fetch and compilation. Default
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	Logger       *slog.Logger
	// DefaultCPUMsPerSecond is the cluster's resolver time per second and
	// node: the rate of a namespace that sets no resolver_cpu_ms_per_second
	// and the most one that sets it gets. Nil (or 0): DefaultCPUMsPerSecond.
	DefaultCPUMsPerSecond func() uint32
	// Now is the clock resolver calls are timed and budgeted by. Default
	// time.Now.
	Now func() time.Time
	// Resolved, if set, is told of each resolution that went to a
	// namespace's pool, with how long it took (the wait for an instance
	// included).
	Resolved func(ns string, d time.Duration)
	// BreakerOpened, if set, is told when a pool's breaker opens on this
	// node's own calls: the namespace, the module's hash and when the
	// opening ends. The node tells the other nodes ([Registry.OpenBreaker]).
	BreakerOpened func(ns, hash string, until time.Time)
}

// Registry holds the compiled modules and instance pools of the
// namespaces' resolvers. Pools are per (namespace, module, limits) and
// never shared between namespaces. It is safe for concurrent use.
type Registry struct {
	cfg      Config
	compiles singleflight.Group

	mu      sync.Mutex
	modules map[string]*resolvers.Module // by hex sha256
	pools   map[string]*resolvers.Pool   // by namespace
	keys    map[string]string            // namespace → settings the pool was built for
	gates   map[string]*gate             // namespace → its resolver budget (budget.go)
	// openings are the breaker openings other nodes reported, by
	// namespace, for the pools made after them.
	openings map[string]opening

	failures atomic.Int64 // resolutions that failed and kept the siblings
	resolved atomic.Int64 // resolutions applied
}

// New returns an empty registry.
func New(cfg Config) *Registry {
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{cfg: cfg, modules: map[string]*resolvers.Module{}, pools: map[string]*resolvers.Pool{}, keys: map[string]string{}, gates: map[string]*gate{}, openings: map[string]opening{}}
}

// opening is another node's breaker opening of a namespace's module.
type opening struct {
	hash  string
	ends  time.Time
	grace time.Duration
}

// until is when a pool made now would stay open to.
func (o opening) until() time.Time { return o.ends.Add(o.grace) }

// OpenBreaker makes namespace ns's pool follow another node's breaker of
// the module named hash, open until ends, if the pool runs that module
// ([resolvers.Pool.OpenUntil], with grace). A pool made later, before
// ends and grace, starts open.
func (r *Registry) OpenBreaker(ns, hash string, ends time.Time, grace time.Duration) {
	o := opening{hash: hash, ends: ends, grace: grace}
	r.mu.Lock()
	if cur, ok := r.openings[ns]; !ok || cur.hash != hash || cur.until().Before(o.until()) {
		r.openings[ns] = o
	}
	p := r.pools[ns]
	r.mu.Unlock()
	if p != nil && p.Module().Hash().String() == hash {
		p.OpenUntil(ends, grace)
	}
}

// Close closes the runtime, and with it every module and pool.
func (r *Registry) Close(ctx context.Context) error { return r.cfg.Runtime.Close(ctx) }

// Runtime is the WebAssembly runtime modules are compiled in.
func (r *Registry) Runtime() *resolvers.Runtime { return r.cfg.Runtime }

// ModuleHash is the hex SHA-256 that names a module.
func ModuleHash(wasm []byte) string {
	h := sha256.Sum256(wasm)
	return hex.EncodeToString(h[:])
}

// StoreModule keeps a module's bytes in the store, by hash.
func (r *Registry) StoreModule(wasm []byte) (string, error) {
	hash := ModuleHash(wasm)
	var b storage.Batch
	b.Set(keys.Meta("module", hash), wasm)
	if err := r.cfg.Store.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return "", err
	}
	return hash, nil
}

// Module returns a module this node keeps, nil if it has none
// (peer.Local's FetchModule).
func (r *Registry) Module(hash string) ([]byte, error) {
	wasm, err := r.cfg.Store.Get(keys.Meta("module", hash))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return wasm, err
}

// moduleBytes returns a module by hash: a built-in, this node's copy, or
// one fetched from a live member (and checked against the hash).
func (r *Registry) moduleBytes(ctx context.Context, hash string) ([]byte, error) {
	for _, name := range builtin.Names() {
		if wasm, _ := builtin.Module(name); ModuleHash(wasm) == hash {
			return wasm, nil
		}
	}
	if wasm, err := r.Module(hash); err != nil || wasm != nil {
		return wasm, err
	}
	if r.cfg.Peers != nil {
		for _, m := range r.cfg.Members.Members() {
			if m.ID == r.cfg.Members.Self() || !r.cfg.Members.Alive(m.ID) {
				continue
			}
			wasm, err := r.cfg.Peers.FetchModule(ctx, m.ID, hash)
			if err != nil || len(wasm) == 0 || ModuleHash(wasm) != hash {
				continue
			}
			if _, err := r.StoreModule(wasm); err != nil {
				return nil, err
			}
			return wasm, nil
		}
	}
	return nil, fmt.Errorf("registry: module %s is on no reachable node", hash)
}

// compiled returns the compiled module of a hash, if there is one.
func (r *Registry) compiled(hash string) (*resolvers.Module, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mod, ok := r.modules[hash]
	return mod, ok
}

// compile returns the compiled module of a hash, fetching and compiling it
// once however many callers ask at the same time. The work runs under its
// own deadline, not a caller's, so one caller that gives up does not fail
// the others; each caller waits at most until its own ctx ends.
func (r *Registry) compile(ctx context.Context, hash string) (*resolvers.Module, error) {
	if mod, ok := r.compiled(hash); ok {
		return mod, nil
	}
	ch := r.compiles.DoChan(hash, func() (any, error) {
		if mod, ok := r.compiled(hash); ok {
			return mod, nil
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FetchTimeout)
		defer cancel()
		wasm, err := r.moduleBytes(wctx, hash)
		if err != nil {
			return nil, err
		}
		mod, err := r.cfg.Runtime.Compile(wctx, wasm)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.modules[hash] = mod
		return mod, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*resolvers.Module), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Prepare makes a namespace's resolver ready: it fetches and compiles its
// module if this node has not yet, so that Resolve, which may run under a
// replica lock, never does. Call it before taking the lock. A namespace
// without a server-side resolver needs nothing.
func (r *Registry) Prepare(ctx context.Context, ns meta.Namespace) error {
	if ns.Resolver == nil || ns.Resolver.Mode == meta.ModeClient {
		return nil
	}
	_, err := r.compile(ctx, ns.Resolver.Hash)
	return err
}

// errNotPrepared is a resolution of a module that is not compiled here.
var errNotPrepared = errors.New("registry: the resolver's module is not compiled on this node yet")

// pool returns the instance pool of a namespace's resolver, building it
// from the compiled module; it never fetches or compiles.
func (r *Registry) pool(ctx context.Context, ns meta.Namespace) (*resolvers.Pool, error) {
	res := ns.Resolver
	key := fmt.Sprintf("%s/%d/%v/%v/%x/%d", res.Hash, res.MemoryPages, res.WriteDeadline, res.ReadDeadline, res.Config, ns.Limits.MaxValueBytes)
	r.mu.Lock()
	p, ok := r.pools[ns.Name]
	if ok && r.keys[ns.Name] == key {
		r.mu.Unlock()
		return p, nil
	}
	mod, compiled := r.modules[res.Hash]
	if !compiled {
		r.mu.Unlock()
		return nil, errNotPrepared
	}
	var opts []resolvers.PoolOption
	if opened := r.cfg.BreakerOpened; opened != nil {
		name, hash := ns.Name, res.Hash
		opts = append(opts, resolvers.WithOnOpen(func(until time.Time) { opened(name, hash, until) }))
	}
	fresh := resolvers.NewPool(mod, ns.Name, res.Config, resolvers.Limits{
		Deadline:       max(res.WriteDeadline, res.ReadDeadline),
		MemoryPages:    res.MemoryPages,
		MaxOutputBytes: int(ns.Limits.MaxValueBytes),
	}, opts...)
	old := r.pools[ns.Name]
	r.pools[ns.Name], r.keys[ns.Name] = fresh, key
	o, reported := r.openings[ns.Name]
	if reported && !o.until().After(r.cfg.Now()) {
		delete(r.openings, ns.Name)
		reported = false
	}
	r.mu.Unlock()
	if old != nil {
		_ = old.Close(context.WithoutCancel(ctx))
	}
	if reported && o.hash == res.Hash {
		fresh.OpenUntil(o.ends, o.grace)
	}
	return fresh, nil
}

// Adopt stores an activated module and keeps its compilation (mod, which
// the registry now owns), and returns its hash.
func (r *Registry) Adopt(ctx context.Context, wasm []byte, mod *resolvers.Module) (string, error) {
	hash, err := r.StoreModule(wasm)
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		return "", err
	}
	r.mu.Lock()
	_, had := r.modules[hash] // pools may run the compilation held already: keep it
	if !had {
		r.modules[hash] = mod
	}
	r.mu.Unlock()
	if had {
		_ = mod.Close(context.WithoutCancel(ctx))
	}
	return hash, nil
}

// Stats is a namespace resolver's counters on this node. Its failures of
// kind resolvers.KindBudget are the calls the namespace's resolver budget
// turned away (see [Registry.Resolve]).
type Stats struct {
	Namespace string
	Stats     resolvers.Stats
}

// Stats returns the pools' statistics, and an open breaker for each
// namespace with no pool here yet whose breaker another node opened.
func (r *Registry) Stats() []Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Stats, 0, len(r.pools))
	for ns, p := range r.pools {
		st := p.Stats()
		if st.Failures == nil {
			st.Failures = map[resolvers.ErrorKind]uint64{}
		}
		st.Failures[resolvers.KindBudget] += r.skippedLocked(ns)
		out = append(out, Stats{Namespace: ns, Stats: st})
	}
	// A namespace whose resolver has not run here yet, but whose breaker
	// another node opened: its pool will start open.
	now := r.cfg.Now()
	for ns, o := range r.openings {
		if _, made := r.pools[ns]; !made && o.until().After(now) {
			out = append(out, Stats{Namespace: ns, Stats: resolvers.Stats{Breaker: resolvers.BreakerOpen, Failures: map[resolvers.ErrorKind]uint64{}}})
		}
	}
	return out
}
