// Package node assembles one concord node from a [Config] and runs it: it
// opens the storage engine, metadata and replica store, builds the parts
// (each a package of its own, with one job) and starts and stops their
// background services, and it is the public API of the node: the
// key-value operations and every administrative call.
//
// The parts, and what the node hands each:
//
//   - [front.Front], the KV front: validation, forwarding, listings,
//     server-side resolution; it runs requests through [coord.Coordinator];
//   - [topology.Topology]: the ring, staging, plan and commit, the ring
//     change in progress, and placement;
//   - [registry.Registry]: resolver modules, compiled once, and their
//     pools, never fetched or compiled under a replica lock;
//   - [hints.Deliverer], [transfer.Receiver], [purger.Purger] and
//     [antientropy.Service]: the background services, each with Start and
//     Close;
//   - [incarnations.Keeper] and [seals.Keys]: the namespace incarnation
//     rules and the context-sealing keys.
//
// The node also holds the rules every administrative call follows:
// namespaces change through [Node.CreateNamespace] and its siblings, and a
// resolver becomes active only through [Node.ActivateResolver], after the
// law checks. internal/embed runs a node with its servers (internal/server
// puts it behind Connect, translating only); the node is the
// [peer.Local] of its peer service.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/antientropy"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/node/hints"
	"github.com/concord-kv/concord/engine/node/incarnations"
	"github.com/concord-kv/concord/engine/node/purger"
	"github.com/concord-kv/concord/engine/node/registry"
	"github.com/concord-kv/concord/engine/node/seals"
	"github.com/concord-kv/concord/engine/node/topology"
	"github.com/concord-kv/concord/engine/node/usage"
	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/resolvers"
)

// Node is one running concord node. It is safe for concurrent use.
type Node struct {
	cfg     Config
	log     *slog.Logger
	id      string
	eng     storage.Engine
	meta    *meta.Store
	replica *replica.Store
	actors  *actor.Book // the incarnations this node issues dots under
	coord   *coord.Coordinator

	seals    *seals.Keys
	auth     *auth.Store
	top      *topology.Topology
	trees    *antientropy.Trees
	incs     *incarnations.Keeper
	registry *registry.Registry
	front    *front.Front
	settings *meta.SettingsStore // the cluster settings (settings.go)
	rates    backgroundRates     // the background limiters they set

	members  *membership.Membership // nil for a single node
	peers    *peer.Client           // nil for a single node
	services services               // nil for a single node
	hints    *hints.Deliverer       // nil for a single node
	usage    *usage.Tracker         // what each namespace stores, here and across the cluster
	aae      *antientropy.Service   // nil for a single node
	purger   *purger.Purger         // serves other nodes' purges; started in a cluster
	pace     *pace.Pacer            // paces background work by foreground latency
	numbers  *nsstats.Keeper        // the namespaces' numbers on this node (numbers.go)
	breakers sharedBreakers         // this node's resolver breaker openings (breakers.go)

	bgCtx    context.Context // ends at Close: the rejoin loop, merge-time resolutions
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	docMu    sync.Mutex // serialises onDoc
	createMu sync.Mutex // serialises namespace creates (max_namespaces)
	rangeMu  sync.Mutex // serialises range deletions (each takes its keys out of the trees)

	closeOnce sync.Once
	closeErr  error
}

// Open starts a node: it opens (or creates) the store in cfg.DataDir and
// loads its metadata.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Cluster != nil {
		for _, r := range cfg.Cluster.risks() {
			cfg.Logger.Warn("risky cluster configuration", "risk", r)
		}
	}
	var eng storage.Engine
	if cfg.DataDir == "" {
		eng = memory.New()
	} else {
		var err error
		eng, err = pebble.Open(cfg.DataDir, pebble.Options{FS: cfg.FS, Logger: cfg.Logger.With("component", "pebble"), WALSyncInterval: cfg.WALSyncInterval})
		if err != nil {
			return nil, fmt.Errorf("node: open storage: %w", err)
		}
	}
	n, err := open(cfg, eng)
	if err != nil {
		return nil, errors.Join(err, eng.Close())
	}
	return n, nil
}

// open assembles the node over eng, bottom up: identity, metadata, the
// replica store with its trees, topology, the resolver registry, then
// (for a cluster) gossip and the background services, and last the
// coordinator and the KV front.
func open(cfg Config, eng storage.Engine) (*Node, error) {
	id, err := loadIdentity(eng, cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", id), id: id, eng: eng}
	if n.actors, err = actor.Open(eng, id, cfg.Partitions); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.seals, err = seals.Open(eng, n.log); err != nil {
		return nil, err
	}
	if n.auth, err = n.openAuth(); err != nil {
		return nil, err
	}
	if n.meta, err = meta.Open(eng, cfg.Namespace, cfg.Now); err != nil {
		return nil, err
	}
	n.numbers = nsstats.NewKeeper(n.namespaceExists)
	if n.settings, err = meta.OpenSettings(eng); err != nil {
		return nil, err
	}
	n.trees = antientropy.NewTrees(eng, cfg.Partitions)
	if n.replica, err = replica.New(eng, cfg.Partitions, n.trees.Observe); err != nil {
		return nil, err
	}
	n.replica.CacheObjects(cfg.ObjectCacheBytes)
	if err := n.trees.Build(); err != nil {
		return nil, fmt.Errorf("node: build anti-entropy trees: %w", err)
	}
	n.incs = incarnations.New(incarnations.Config{
		Namespaces: n.meta, Data: eng, Hints: n.replica, DeleteRanges: n.deleteRanges,
		Partitions: cfg.Partitions, Logger: n.log,
	})
	n.incs.DropDead() // deleted before a restart, or superseded while it was down
	cc := cfg.Cluster
	if n.top, err = topology.Open(topology.Config{
		Self: id, Store: eng, Partitions: cfg.Partitions, TargetN: targetN(cc), Zone: zoneOf(cc),
		Joining: cc != nil && len(cc.Join) > 0, ReplicaCounts: n.replicaCounts, Logger: n.log,
		VerifyMember: verifyMember(cc),
	}); err != nil {
		return nil, err
	}
	if cc != nil {
		httpClient := cc.PeerHTTP
		if httpClient == nil {
			httpClient = peer.NewPlaintextClient(nil)
		}
		n.peers = peer.NewClient(id, httpClient, n.peerAddr)
		if cc.NoPeerStreams {
			n.peers.DisableStreams()
		}
	}
	if n.registry, err = n.openRegistry(); err != nil {
		return nil, err
	}
	n.replica.SetResolveHook(n.mergeResolver)
	n.usage = usage.New(usage.Config{Self: id, Local: n.replica, Publish: n.publishUsage, Quota: n.hasQuota, Now: cfg.Now, Logger: n.log.With("component", "usage")})
	n.bgCtx, n.bgCancel = context.WithCancel(context.Background())
	n.meta.OnChange(n.publishNamespace)
	n.auth.OnChange(n.publishDoc)
	n.settings.OnChange(n.publishSettings)
	var peers coord.Peers = noPeers{}
	if n.peers != nil {
		peers = coordPeers{n.peers}
	}
	n.coord = coord.New(n.replica, n.top, peers, coord.Options{Logger: n.log, ReadRepaired: n.readRepaired})
	fc := front.Config{
		Namespaces: frontNamespaces{n.meta, n.settings}, Coordinator: n.coord, Topology: n.top, Resolvers: n.registry,
		Actors: n.actors, Seals: n.seals, Store: n.replica, Usage: frontUsage{n}, Now: cfg.Now, Logger: n.log,
	}
	if n.peers != nil {
		fc.Peers = n.peers
	}
	n.front = front.New(fc)
	n.pace = pace.New()
	n.purger = n.newPurger()
	if cc != nil {
		if err := n.startCluster(cc); err != nil {
			n.stop()
			return nil, err
		}
	}
	n.bg.Go(func() { n.usage.Run(n.bgCtx) })
	n.log.Info("node open", "data_dir", cfg.DataDir, "partitions", cfg.Partitions)
	return n, nil
}

// loadIdentity returns the node's ID, checking the store against cfg.
func loadIdentity(eng storage.Engine, cfg Config) (string, error) {
	id, err := loadOrStore(eng, "node-id", cfg.NodeID, randomID)
	if err != nil {
		return "", err
	}
	if cfg.NodeID != "" && id != cfg.NodeID {
		return "", fmt.Errorf("node: the store belongs to node %q, not %q", id, cfg.NodeID)
	}
	q, err := loadOrStore(eng, "partitions", fmt.Sprint(cfg.Partitions), nil)
	if err != nil {
		return "", err
	}
	if q != fmt.Sprint(cfg.Partitions) {
		return "", fmt.Errorf("node: the store was created with %s partitions, not %d", q, cfg.Partitions)
	}
	if !actor.ValidNodeID(id) {
		return "", fmt.Errorf("node: the store's node ID %q is not valid", id)
	}
	return id, nil
}

// openRegistry starts the WebAssembly runtime and the resolver registry.
func (n *Node) openRegistry() (*registry.Registry, error) {
	// The runtime's caps are the ceilings: the cluster's caps, which may
	// change at any time, are checked when a resolver is uploaded.
	opts := resolvers.Options{Logger: n.log.With("component", "resolvers"),
		MaxLimits: resolvers.Limits{MemoryPages: meta.CeilingMemoryPages, Deadline: meta.MaxResolverDeadline}}
	if n.cfg.DataDir != "" && (n.cfg.FS == nil || n.cfg.FS == vfs.Default) {
		opts.CacheDir = filepath.Join(n.cfg.DataDir, "wasm-cache")
	}
	rt, err := resolvers.NewRuntime(context.Background(), opts)
	if err != nil {
		return nil, fmt.Errorf("node: start the WebAssembly runtime: %w", err)
	}
	rc := registry.Config{Runtime: rt, Store: n.eng, Members: n.top, Logger: n.log, Resolved: n.numbers.Resolved, BreakerOpened: n.breakerOpened,
		DefaultCPUMsPerSecond: func() uint32 { return n.ClusterSettings().ResolverCPUMsPerSecond }}
	if n.peers != nil {
		rc.Peers = n.peers
	}
	return registry.New(rc), nil
}

// replicaCounts is the replica count of every namespace (topology plans
// transfers for each).
func (n *Node) replicaCounts() []int {
	var out []int
	for _, ns := range n.meta.List() {
		out = append(out, int(ns.N))
	}
	return out
}

// loadOrStore returns the value stored under the identity key name, storing
// want (or, when want is empty, gen()) first if the store has none.
func loadOrStore(eng storage.Engine, name, want string, gen func() string) (string, error) {
	k := keys.Meta("identity", name)
	v, err := eng.Get(k)
	if err == nil {
		return string(v), nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("node: read %s: %w", name, err)
	}
	if want == "" {
		want = gen()
	}
	var b storage.Batch
	b.Set(k, []byte(want))
	if err := eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return "", fmt.Errorf("node: store %s: %w", name, err)
	}
	return want, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "n" + hex.EncodeToString(b[:])
}

// Close stops the node and closes its store. It is safe to call twice.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.stop()
		n.coord.Wait()
		if n.peers != nil {
			n.peers.Close() // its streams; the peers' servers end their side
		}
		_ = n.registry.Close(context.Background())
		n.closeErr = errors.Join(n.actors.Close(), n.eng.Close())
		n.log.Info("node closed")
	})
	return n.closeErr
}

// stop ends the background services (in the reverse order of their
// start) and the rejoin loop, and leaves the cluster.
func (n *Node) stop() {
	_ = n.services.Close()
	n.bgCancel()
	n.bg.Wait()
	n.leave()
}

// Healthy reports whether the node can serve: nil, or why not (its storage
// failed, see storage.ErrFailed; the node must be restarted).
func (n *Node) Healthy() error {
	if _, err := n.eng.Get(keys.Meta("identity", "node-id")); err != nil {
		return fmt.Errorf("node: storage: %w", err)
	}
	return nil
}
