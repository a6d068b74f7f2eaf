// Package peer is the node-to-node RPC of a cluster (concord.peer.v1 over
// Connect, HTTP/1.1 in clear text or, under mutual TLS, over TLS:
// [NewTLSClient]), and the only package of the engine that knows
// that wire. A [Client] calls other nodes; a [Handler] serves the same calls
// from a [Local] node. Both speak domain types only — [Object],
// [CoordinateRequest], [TransferRequest], dvv objects, engine errors — so no
// other engine package imports generated code or connect.
//
// Every Client method is the [Local] method of the node it calls, with that
// node's ID after the context: Replicate is Local.Apply, Read is
// Local.ReadLocal, and Transfer returns an iterator ([Transfer]) where the
// Local pushes objects to a callback.
//
// The package knows nothing of the coordinator: engine/coord declares the
// calls it needs (coord.Peers) in its own types, and engine/node, which
// assembles both, adapts a Client to it in a few lines. So coord never
// reaches the wire, peer never reaches coord, and neither needs a third
// package of shared types.
//
// Errors cross intact. The handler answers every error as a Connect error
// carrying a concord.peer.v1.EngineError detail that holds the engine error
// (package engine/errs) with all its fields; the client rebuilds the same
// error from it, so callers see engine errors, never Connect errors. A call
// whose error carries no such detail was not answered by the other node,
// and the client reports [ErrNoAnswer]: only then may a caller try another
// node instead.
package peer

import (
	"context"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/nsstats"
)

// Object is one key's replica.
type Object struct {
	// Namespace is the storage namespace (the name of one incarnation).
	Namespace string
	Key       []byte
	Object    dvv.Object
}

// CoordinateRequest is a client write (or, with Tombstone, a delete) that a
// node forwards to a node that coordinates the key.
type CoordinateRequest struct {
	// Namespace is the namespace as the client named it; the coordinator
	// resolves it to its current incarnation.
	Namespace        string
	Key              []byte
	Value            []byte
	Context          []byte // the client's opaque context, as it sent it
	W, DW            uint32 // zero: the namespace's
	IfAbsent         bool
	IfContextCurrent bool
	Tombstone        bool
	Force            bool // a delete without context
	// Hops is how many times the request was forwarded so far; a node
	// does not forward a request again.
	Hops int
}

// TransferRequest asks a node for a partition's objects in storage-key
// order, after a cursor.
type TransferRequest struct {
	Partition uint16
	// Namespace, when set, limits the transfer to that storage namespace's
	// objects (a listing); empty: the whole partition (a handoff).
	Namespace string
	// Cursor resumes the transfer after the object it names: the storage
	// key (keys.Data) of the last object received, as [Transfer.Cursor]
	// returns it. Nil starts at the beginning.
	Cursor []byte
	// BatchSize is how many objects travel in one message. Zero: the
	// serving node's default.
	BatchSize int
}

// Local is what a node offers its peers; a [Handler] serves it. Its errors
// are engine errors (package errs), [ErrNotCoordinator] or context errors;
// the handler sends anything else as errs.ErrUnavailable without its text,
// so a Local logs its internal failures itself.
type Local interface {
	// Apply merges objects into the local replica, or keeps them as hints
	// for intendedOwner when it is set. It reports whether they were synced.
	Apply(ctx context.Context, objs []Object, sync bool, intendedOwner string) (durable bool, err error)
	// ReadLocal returns the local replica of a key.
	ReadLocal(ctx context.Context, ns string, key []byte) (dvv.Object, error)
	// Coordinate runs a client write forwarded by another node and returns
	// the written object and the acknowledgements; it answers
	// ErrNotCoordinator when this node does not coordinate the key.
	Coordinate(ctx context.Context, req CoordinateRequest) (dvv.Object, int, error)
	// Tree returns the segment hashes of a partition's anti-entropy tree.
	Tree(ctx context.Context, partition uint16) ([]uint64, error)
	// Segment returns the objects of some segments of a partition's tree.
	Segment(ctx context.Context, partition uint16, segments []uint32) ([]Object, error)
	// Transfer calls send with each object of the partition after
	// req.Cursor, in storage-key order, and with the approximate bytes of
	// the transferred range left after it. It stops at the first error of
	// send and returns it. req.BatchSize is the handler's business.
	Transfer(ctx context.Context, req TransferRequest, send func(o Object, remaining uint64) error) error
	// Purge removes the objects whose local copies are exactly these and
	// reports how many it removed.
	Purge(ctx context.Context, objs []Object) (int, error)
	// FetchModule returns a resolver module by hash, nil if not held.
	FetchModule(ctx context.Context, sha256 string) ([]byte, error)
	// NamespaceStats returns this node's own numbers of a namespace (by
	// its name, not a storage namespace); errs.ErrNamespaceNotFound if
	// there is no such namespace. The histograms (Latency) stay home.
	NamespaceStats(ctx context.Context, ns string) (nsstats.Stats, error)
}
