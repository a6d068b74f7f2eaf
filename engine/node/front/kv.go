package front

import (
	"context"
	"errors"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
)

// maxContextBytes bounds a client's context: far above what a real clock of
// up to a few hundred actors encodes to, and small enough that a forged
// context cannot bloat a key's clock.
const maxContextBytes = 16 << 10

// maxHops bounds forwarding: a write is forwarded at most once.
const maxHops = 1

// GetRequest reads a key. R zero means the namespace's r.
type GetRequest struct {
	Namespace string
	Key       []byte
	R         uint32
}

// Result is the state of a key after a read or a write.
type Result struct {
	Object dvv.Object
	// Context is the sealed causal context the client passes back to write
	// over what it read: the context of Object, or of the siblings a
	// server-side resolution merged.
	Context     []byte
	Replies     int    // replicas that answered
	ResolvedBy  string // the resolver that merged the siblings on the server, if one did
	Coordinator string // the node that coordinated the request
}

// PutRequest writes (or, with Tombstone, deletes) a key.
type PutRequest struct {
	Namespace        string
	Key              []byte
	Value            []byte
	Context          []byte // opaque token from an earlier read
	W, DW            uint32 // zero: the namespace's
	IfAbsent         bool
	IfContextCurrent bool
	Tombstone        bool // a delete
	// Force makes a write without a context replace every version the
	// coordinator holds: a delete without context needs it, and a put's
	// overwrite sets it.
	Force bool

	writeBack bool // an on_read resolution written back: the server's own write, never refused by a quota
}

// Get reads a key. A missing key is a Result with a zero Object, not an
// error.
func (f *Front) Get(ctx context.Context, req GetRequest) (Result, error) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	ns, err := f.namespace(req.Namespace)
	if err != nil {
		return Result{}, err
	}
	if err := f.limitRead(ns); err != nil {
		return Result{}, err
	}
	if err := checkKey(ns, req.Key); err != nil {
		return Result{}, err
	}
	if err := checkQuorum("r", req.R, ns); err != nil {
		return Result{}, err
	}
	r := int(orDefault(req.R, ns.R))
	if err := f.checkReachable("r", r, ns, req.Key); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	f.prepare(ctx, ns) // read repair merges under the key's lock
	storageNS := ns.StorageName()
	if local, _ := f.cfg.Coordinator.IsCoordinator(storageNS, req.Key, int(ns.N)); !local {
		f.remoteReads.Add(1)
	}
	obj, replies, err := f.cfg.Coordinator.Read(ctx, storageNS, req.Key, int(ns.N), r)
	if err != nil {
		return Result{Replies: replies}, f.storageFailed("get", err)
	}
	// The context is the read's, also when a resolver merges the siblings
	// below: the merge shown here was never written, so its dot must not
	// reach a client (a later write could reuse it).
	res := Result{Object: obj, Context: f.cfg.Seals.Seal(storageNS, req.Key, obj), Replies: replies, Coordinator: f.cfg.Topology.Self()}
	if rs := ns.Resolver; rs != nil && rs.Mode != meta.ModeClient && obj.Len() > 1 {
		merged, ok := f.cfg.Resolvers.Resolve(ctx, ns, req.Key, obj, rs.ReadDeadline)
		if !ok {
			return res, nil
		}
		// Shown, never stored and never in a context: its dot reaches no
		// one, so any actor does.
		resolved := obj.Resolve(f.cfg.Topology.Self(), merged)
		res.Object, res.ResolvedBy = resolved, rs.Name
		if rs.Mode == meta.ModeOnRead {
			// Once the merge is stored, the client gets its context, so that a
			// write with it replaces the merge. Not when a concurrent write
			// joined it: that context would cover a version the client never
			// saw, and its next write would drop it.
			if written, ok := f.writeBack(ctx, ns, req.Key, obj, resolved); ok && written.Len() == 1 {
				res.Object, res.Context = written, f.seal(ns.Name, req.Key, written)
			}
		}
	}
	return res, nil
}

// prepare makes a namespace's resolver ready outside any lock. A failure
// is the resolution's to report: it keeps the siblings.
func (f *Front) prepare(ctx context.Context, ns meta.Namespace) {
	if ns.Resolver == nil || ns.Resolver.Mode == meta.ModeClient {
		return
	}
	if err := f.cfg.Resolvers.Prepare(ctx, ns); err != nil {
		f.cfg.Logger.Debug("resolver not ready", "namespace", ns.Name, "err", err)
	}
}

// writeBack stores an on_read resolution: a write with the context of
// everything the read saw, so it replaces exactly those siblings.
func (f *Front) writeBack(ctx context.Context, ns meta.Namespace, key []byte, read, resolved dvv.Object) (dvv.Object, bool) {
	sib := resolved.Siblings()[0]
	res, err := f.put(ctx, PutRequest{
		Namespace: ns.Name, Key: key, Value: sib.Value, Tombstone: sib.Tombstone,
		Context: f.seal(ns.Name, key, read), writeBack: true,
	}, 0)
	if err != nil {
		f.cfg.Logger.Debug("on_read write-back failed; the next read retries", "namespace", ns.Name, "err", err)
		return dvv.Object{}, false
	}
	return res.Object, true
}

// Put writes (or deletes) a key: this node coordinates the write if it is
// in the key's preference list, and forwards it to one that is otherwise.
func (f *Front) Put(ctx context.Context, req PutRequest) (Result, error) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if err := f.limitWrite(req.Namespace); err != nil {
		return Result{}, err
	}
	res, err := f.put(ctx, req, 0)
	var conf *errs.ConflictError
	switch {
	case err == nil:
		res.Context = f.seal(req.Namespace, req.Key, res.Object)
	case errors.As(err, &conf):
		conf.Context = f.seal(req.Namespace, req.Key, conf.Current)
	}
	return res, err
}

// Coordinate runs a write another node forwarded (peer.Local's
// Coordinate). The forwarding node counted it against the namespace's
// writes_per_second already.
func (f *Front) Coordinate(ctx context.Context, req peer.CoordinateRequest) (dvv.Object, int, error) {
	res, err := f.put(ctx, PutRequest{
		Namespace: req.Namespace, Key: req.Key, Value: req.Value, Context: req.Context,
		W: req.W, DW: req.DW, IfAbsent: req.IfAbsent, IfContextCurrent: req.IfContextCurrent,
		Tombstone: req.Tombstone, Force: req.Force,
	}, req.Hops+1)
	return res.Object, res.Replies, err
}

func (f *Front) put(ctx context.Context, req PutRequest, hops int) (Result, error) {
	ns, clock, err := f.checkPut(req)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	w := int(orDefault(req.W, ns.W))
	dw := int(min(orDefault(req.DW, ns.DW), uint32(w)))
	if ns.Durability != meta.DurabilitySync {
		dw = 0 // the namespace's dw applies while it is sync (a request's dw was refused above)
	}
	storageNS := ns.StorageName()
	if ok, others := f.cfg.Coordinator.IsCoordinator(storageNS, req.Key, int(ns.N)); !ok {
		if hops >= maxHops {
			return Result{}, peer.ErrNotCoordinator // the forwarding node asks the next replica
		}
		f.forwardedWrites.Add(1)
		return f.forward(ctx, req, others, w)
	}
	f.prepare(ctx, ns) // before the key's lock: an on_write resolution only runs in it
	obj, acks, err := f.cfg.Coordinator.Write(ctx, coord.WriteRequest{
		Namespace: storageNS, Key: req.Key, N: int(ns.N), W: w, DW: dw,
		Sync: ns.Durability == meta.DurabilitySync, Apply: f.apply(ctx, ns, req, clock, f.cfg.Store.Partition(storageNS, req.Key)),
	})
	self := f.cfg.Topology.Self()
	if err != nil {
		return Result{Object: obj, Replies: acks, Coordinator: self}, f.storageFailed("put", err)
	}
	return Result{Object: obj, Replies: acks, Coordinator: self}, nil
}

// apply is a coordinator's read-modify-write of a client write, run under
// the key's lock: the conditions, the DVVSet update under an actor of this
// node (package actor), an on_write resolution, the sibling limit and the
// namespace's quotas (quota.go).
func (f *Front) apply(ctx context.Context, ns meta.Namespace, req PutRequest, clock dvv.Clock, partition uint16) func(dvv.Object) (dvv.Object, error) {
	quota := f.quota(ns, req)
	sib := dvv.Sibling{Value: req.Value, Tombstone: req.Tombstone, Timestamp: f.cfg.Now().UnixNano()}
	if sib.Value == nil {
		sib.Value = []byte{}
	}
	return func(cur dvv.Object) (dvv.Object, error) {
		if req.IfAbsent && cur.HasLive() {
			return dvv.Object{}, &errs.ConflictError{Current: cur, Exists: true}
		}
		if req.IfContextCurrent && !cur.Context().Equal(clock) {
			return dvv.Object{}, &errs.ConflictError{Current: cur}
		}
		if req.Force && len(req.Context) == 0 {
			clock = cur.Context() // a forced delete or an overwrite replaces everything this coordinator holds
		}
		// Unsynced whatever the namespace's durability: the coordinator
		// applies the write unsynced and replicates it while its own sync
		// runs (coord.Write), so the dot may reach another replica before
		// this node's disk, and a crash meanwhile must raise the floors.
		actor, err := f.cfg.Actors.Pick(partition, cur, clock, false)
		if err != nil {
			return dvv.Object{}, err
		}
		next := cur.Update(actor, clock, sib)
		if r := ns.Resolver; r != nil && r.Mode == meta.ModeOnWrite && next.Len() > 1 {
			if merged, ok := f.cfg.Resolvers.Resolve(ctx, ns, req.Key, next, r.WriteDeadline); ok {
				next = next.Resolve(actor, merged)
			}
		}
		if max := ns.Limits.MaxSiblings; uint32(next.Len()) > max && next.Len() > cur.Len() {
			return dvv.Object{}, &errs.LimitError{Limit: "max_siblings", Max: uint64(max), Actual: uint64(next.Len()), Exhausted: true,
				Hint: "read the key, merge its siblings and write back with the context"}
		}
		if quota != nil {
			if err := quota(req.Key, cur, next); err != nil {
				return dvv.Object{}, err
			}
		}
		if !req.writeBack {
			if err := f.limitWriteBytes(ns, req, next); err != nil {
				return dvv.Object{}, err
			}
		}
		return next, nil
	}
}

// forward hands a write to a preference-list node, trying them in order.
// A node that answers decides: its success or its error (a client error, or
// a QuorumError after it applied the write) goes back to the client as is,
// and no other node is asked, since a second coordinator would apply the
// write again. Only a node that did not answer (peer.ErrNoAnswer) or that
// does not coordinate the key (peer.ErrNotCoordinator; it did nothing) is
// skipped. A node that died with the request in flight may have applied
// it, and then the next one applies it too: the value gets a second
// version, a sibling equal to the first (nothing is lost; a client retrying
// would do the same), the price of taking writes while a coordinator dies.
// A node that answered something unreadable did answer: the client gets a
// QuorumError (the write may or may not land), not a second copy.
func (f *Front) forward(ctx context.Context, req PutRequest, to []string, w int) (Result, error) {
	if f.cfg.Peers == nil {
		return Result{}, &errs.QuorumError{Op: "write", Need: w, Got: 0}
	}
	for _, id := range to {
		obj, acks, err := f.cfg.Peers.Coordinate(ctx, id, peer.CoordinateRequest{
			Namespace: req.Namespace, Key: req.Key, Value: req.Value, Context: req.Context,
			W: req.W, DW: req.DW, IfAbsent: req.IfAbsent, IfContextCurrent: req.IfContextCurrent,
			Tombstone: req.Tombstone, Force: req.Force, Hops: 1,
		})
		if err == nil {
			return Result{Object: obj, Replies: acks, Coordinator: id}, nil
		}
		switch {
		case errors.Is(err, peer.ErrNoAnswer), errors.Is(err, peer.ErrNotCoordinator):
		case errors.Is(err, errs.ErrUnavailable):
			return Result{}, &errs.QuorumError{Op: "write", Need: w, Got: 0}
		default:
			return Result{}, err
		}
		f.cfg.Logger.Debug("forward: trying the next replica", "to", id, "err", err)
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
	}
	return Result{}, &errs.QuorumError{Op: "write", Need: w, Got: 0}
}
