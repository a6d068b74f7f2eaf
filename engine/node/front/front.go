// Package front is the key-value front of a node: it validates a client's
// Get, Put, Delete and ListKeys against the namespace (sizes, quorums the
// ring can meet, the context's seal), maps the namespace to its current
// incarnation's storage namespace, and then either runs the request
// through the coordinator ([coord.Coordinator]) or, for a write this node
// does not coordinate, forwards it to one that does. Server-side
// resolution of siblings (a namespace's resolver) happens here too.
//
// A Put goes one way: internal/server's handler → [Front.Put] → the
// coordinator → replica.Store.Mutate → storage. An on_write resolver's
// module is made ready ([Resolvers.Prepare]: fetched and compiled) before
// the coordinator takes the key's lock; inside the lock the resolver only
// runs.
//
// Client Gets, Puts and Deletes are counted against their namespace's
// reads_per_second and writes_per_second here, by the node the client
// called; see [NodeShare] for how a cluster-wide rate is shared out.
// Forwarded writes ([Front.Coordinate]) are not counted again.
//
// A namespace's quotas (max_keys, max_stored_bytes) are checked by the
// coordinator of a client write, under the key's lock, against the
// cluster's usage estimate ([Usage]); see [LimitMaxKeys].
//
// Every dependency is a small interface ([Coordinator], [Topology],
// [Peers], [Resolvers], [Seals], …), so the front is tested with fakes.
package front

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
)

// Namespaces is the namespace metadata (*meta.Store).
type Namespaces interface {
	Get(name string) (meta.Namespace, error)
}

// Coordinator runs quorum reads and writes (*coord.Coordinator).
type Coordinator interface {
	Read(ctx context.Context, ns string, key []byte, n, r int) (dvv.Object, int, error)
	Write(ctx context.Context, req coord.WriteRequest) (dvv.Object, int, error)
	IsCoordinator(ns string, key []byte, n int) (bool, []string)
}

// Topology is the placement of keys.
type Topology interface {
	Self() string
	Ring() (ring.Ring, bool)
	Replicas(p uint16, n int) (pref, fallbacks []string)
	Alive(id string) bool
	// Receiving reports whether this node is still fetching a partition.
	Receiving(p uint16) bool
}

// Peers are the calls to other nodes: forwarded writes and listings of
// partitions this node does not hold (a subset of *peer.Client).
type Peers interface {
	Coordinate(ctx context.Context, to string, req peer.CoordinateRequest) (dvv.Object, int, error)
	Transfer(ctx context.Context, from string, req peer.TransferRequest) *peer.Transfer
}

// Resolvers run the namespaces' resolvers (*registry.Registry).
type Resolvers interface {
	// Prepare fetches and compiles a namespace's resolver; never called
	// under a replica lock.
	Prepare(ctx context.Context, ns meta.Namespace) error
	// Resolve merges siblings with a prepared resolver.
	Resolve(ctx context.Context, ns meta.Namespace, key []byte, obj dvv.Object, deadline time.Duration) (dvv.Sibling, bool)
}

// Actors picks the incarnation a write issues its dot under (*actor.Book).
type Actors interface {
	Pick(p uint16, local dvv.Object, seen dvv.Clock, synced bool) (string, error)
}

// Seals seals and opens client contexts (*seals.Keys).
type Seals interface {
	Seal(storageNS string, key []byte, obj dvv.Object) []byte
	Open(storageNS string, key, tok []byte) (dvv.Clock, error)
}

// Store is the local replica (*replica.Store).
type Store interface {
	Partition(ns string, key []byte) uint16
	Partitions() int
	Scan(partition uint16, ns string, from []byte, fn func(replica.Entry) (bool, error)) error
}

// Config builds a Front.
type Config struct {
	Namespaces  Namespaces
	Coordinator Coordinator
	Topology    Topology
	Peers       Peers // nil: a single node
	Resolvers   Resolvers
	Actors      Actors
	Seals       Seals
	Store       Store
	Usage       Usage // nil: quotas are not enforced
	Now         func() time.Time
	Logger      *slog.Logger
}

// Front serves the key-value operations of one node. It is safe for
// concurrent use.
type Front struct {
	cfg      Config
	inflight atomic.Int64 // client requests being served
	limits   *rateLimiter // the namespaces' reads_per_second and writes_per_second
	// Requests that took a detour because the client sent them to a node
	// outside the key's preference list: writes forwarded to a
	// coordinator, reads coordinated without a local replica.
	forwardedWrites, remoteReads atomic.Int64
}

// New returns a Front.
func New(cfg Config) *Front { return &Front{cfg: cfg, limits: newRateLimiter()} }

// InFlight is the number of client requests being served.
func (f *Front) InFlight() int64 { return f.inflight.Load() }

// Detours counts the client requests this node got for keys it holds no
// replica of: writes it forwarded to a coordinator and reads it
// coordinated from other nodes' replicas only. A client that routes by
// partition (GetTopology) keeps both at zero.
func (f *Front) Detours() (forwardedWrites, remoteReads int64) {
	return f.forwardedWrites.Load(), f.remoteReads.Load()
}

// storageName maps a client's namespace name to its current incarnation's
// storage namespace; a name that is not a live namespace stays as it is.
func (f *Front) storageName(name string) string {
	if ns, err := f.cfg.Namespaces.Get(name); err == nil {
		return ns.StorageName()
	}
	return name
}

// seal is the context a client gets for an object of a key of namespace
// ns, bound to the namespace's current incarnation.
func (f *Front) seal(ns string, key []byte, obj dvv.Object) []byte {
	return f.cfg.Seals.Seal(f.storageName(ns), key, obj)
}
