// Package node assembles one concord node from a [Config]: its storage
// engine, metadata store and replica store, and serves the key-value
// operations on them. It also holds the rules every administrative call
// follows: namespaces change through [Node.CreateNamespace] and its
// siblings, and a resolver becomes active only through
// [Node.ActivateResolver], after the law checks. internal/embed runs a node
// with its servers (internal/server puts it behind Connect, translating
// only).
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
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
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
	eng     storage.Engine
	meta    *meta.Store
	replica *replica.Store
	coord   *coord.Coordinator
	id      string
	actors  *actor.Book      // the incarnations this node issues dots under
	seals   *ctxseal.Keyring // seals and opens client contexts

	placement atomic.Pointer[placement] // nil until the node knows a ring
	members   *membership.Membership    // nil for a single node
	peers     *peer.Client              // nil for a single node

	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	trees     trees
	resolvers *resolverSet
	aae       *aae.Scheduler
	inflight  atomic.Int64 // client requests being served

	hintsDelivered   atomic.Int64
	tombstonesPurged atomic.Int64
	purgeRounds      atomic.Int64
	docMu            sync.Mutex // serialises onDoc
	rangeMu          sync.Mutex // serialises range deletions (each takes its keys out of the trees)

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
		eng, err = pebble.Open(cfg.DataDir, pebble.Options{FS: cfg.FS, Logger: cfg.Logger.With("component", "pebble")})
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

func open(cfg Config, eng storage.Engine) (*Node, error) {
	id, err := loadOrStore(eng, "node-id", cfg.NodeID, randomID)
	if err != nil {
		return nil, err
	}
	if cfg.NodeID != "" && id != cfg.NodeID {
		return nil, fmt.Errorf("node: the store belongs to node %q, not %q", id, cfg.NodeID)
	}
	q, err := loadOrStore(eng, "partitions", fmt.Sprint(cfg.Partitions), nil)
	if err != nil {
		return nil, err
	}
	if q != fmt.Sprint(cfg.Partitions) {
		return nil, fmt.Errorf("node: the store was created with %s partitions, not %d", q, cfg.Partitions)
	}
	if !actor.ValidNodeID(id) {
		return nil, fmt.Errorf("node: the store's node ID %q is not valid", id)
	}
	actors, err := actor.Open(eng, id, cfg.Partitions)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	seals, err := openKeyring(eng)
	if err != nil {
		return nil, err
	}
	ms, err := meta.Open(eng, cfg.Namespace, cfg.Now)
	if err != nil {
		return nil, err
	}
	tr := newTrees(cfg.Partitions)
	rs, err := replica.New(eng, cfg.Partitions, tr.observe)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", id),
		eng:     eng,
		meta:    ms,
		replica: rs,
		trees:   tr,
		id:      id,
		actors:  actors,
		seals:   seals,
	}
	if err := n.buildTrees(); err != nil {
		return nil, fmt.Errorf("node: build anti-entropy trees: %w", err)
	}
	n.dropDeadIncarnations() // deleted before a restart, or superseded while it was down
	rtOpts := resolvers.Options{Logger: n.log.With("component", "resolvers")}
	if cfg.DataDir != "" && (cfg.FS == nil || cfg.FS == vfs.Default) {
		rtOpts.CacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	rt, err := resolvers.NewRuntime(context.Background(), rtOpts)
	if err != nil {
		return nil, fmt.Errorf("node: start the WebAssembly runtime: %w", err)
	}
	n.resolvers = newResolverSet(rt)
	rs.SetResolveHook(n.mergeResolver)
	n.bgCtx, n.bgCancel = context.WithCancel(context.Background())
	joinTimeout := DefaultJoinTimeout
	if cfg.Cluster != nil {
		joinTimeout = cfg.Cluster.JoinTimeout
	}
	joinCtx, cancel := context.WithTimeout(n.bgCtx, joinTimeout)
	defer cancel()
	if err := n.startCluster(joinCtx); err != nil {
		n.stop()
		return nil, err
	}
	var peers coord.Peers = noPeers{}
	if n.peers != nil {
		peers = coordPeers{n.peers}
	}
	n.coord = coord.New(rs, n, peers, coord.Options{Logger: n.log})
	n.log.Info("node open", "data_dir", cfg.DataDir, "partitions", cfg.Partitions)
	return n, nil
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

// ID is the node's actor ID.
func (n *Node) ID() string { return n.id }

// Close stops the node and closes its store. It is safe to call twice.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.stop()
		if n.coord != nil {
			n.coord.Wait()
		}
		if n.resolvers != nil {
			_ = n.resolvers.rt.Close(context.Background())
		}
		n.closeErr = errors.Join(n.actors.Close(), n.eng.Close())
		n.log.Info("node closed")
	})
	return n.closeErr
}

// stop ends the background loops and leaves the cluster.
func (n *Node) stop() {
	n.bgCancel()
	n.bg.Wait()
	if n.aae != nil {
		_ = n.aae.Close()
	}
	if n.members != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = n.members.Leave(ctx)
		cancel()
		_ = n.members.Close()
	}
}

// noPeers is the Peers of a node without a cluster: it reaches nobody.
type noPeers struct{}

func (noPeers) Replicate(context.Context, string, coord.Replication) (bool, error) {
	return false, errNoCluster
}

func (noPeers) Read(context.Context, string, string, []byte) (dvv.Object, error) {
	return dvv.Object{}, errNoCluster
}

var errNoCluster = errors.New("node: not part of a cluster")

// coordPeers is the Peers of a node in a cluster: the coordinator's calls
// over the peer client. coord declares them in its own types, so that it
// knows nothing of the wire; this is the one place that joins the two.
type coordPeers struct{ *peer.Client }

func (p coordPeers) Replicate(ctx context.Context, to string, r coord.Replication) (bool, error) {
	return p.Client.Replicate(ctx, to, []peer.Object{{Namespace: r.Namespace, Key: r.Key, Object: r.Object}}, r.Sync, r.IntendedOwner)
}

// Healthy reports whether the node can serve: nil, or why not (its storage
// failed, see storage.ErrFailed; the node must be restarted).
func (n *Node) Healthy() error {
	if _, err := n.eng.Get(keys.Meta("identity", "node-id")); err != nil {
		return fmt.Errorf("node: storage: %w", err)
	}
	return nil
}
