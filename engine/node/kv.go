package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
)

// maxContextBytes bounds a client's context: far above what a real clock of
// up to a few hundred actors encodes to, and small enough that a forged
// context cannot bloat a key's clock.
const maxContextBytes = 16 << 10

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
	Context    []byte
	Replies    int    // replicas that answered
	ResolvedBy string // the resolver that merged the siblings on the server, if one did
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
	Force            bool // a delete without context
}

// Get reads a key. A missing key is a Result with a zero Object, not an
// error.
func (n *Node) Get(ctx context.Context, req GetRequest) (Result, error) {
	n.inflight.Add(1)
	defer n.inflight.Add(-1)
	ns, err := n.namespace(req.Namespace)
	if err != nil {
		return Result{}, err
	}
	if err := checkKey(ns, req.Key); err != nil {
		return Result{}, err
	}
	if err := checkQuorum("r", req.R, ns); err != nil {
		return Result{}, err
	}
	if err := n.checkReachable("r", int(orDefault(req.R, ns.R)), ns, req.Key); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	obj, replies, err := n.coord.Read(ctx, ns.StorageName(), req.Key, int(ns.N), int(orDefault(req.R, ns.R)))
	if err != nil {
		return Result{Replies: replies}, n.storageFailed("get", err)
	}
	// The context is the read's, also when a resolver merges the siblings
	// below: the merge shown here was never written, so its dot must not
	// reach a client (a later write could reuse it).
	res := Result{Object: obj, Context: n.seal(ns.Name, req.Key, obj), Replies: replies}
	if r := ns.Resolver; r != nil && r.Mode != meta.ModeClient && obj.Len() > 1 {
		merged, ok := n.resolveSiblings(ctx, ns, req.Key, obj, r.ReadDeadline)
		if !ok {
			return res, nil
		}
		// Shown, never stored and never in a context: its dot reaches no
		// one, so any actor does.
		resolved := obj.Resolve(n.id, merged)
		res.Object, res.ResolvedBy = resolved, r.Name
		if r.Mode == meta.ModeOnRead {
			n.writeBack(ctx, ns, req.Key, obj, resolved)
		}
	}
	return res, nil
}

// writeBack stores an on_read resolution: a write with the context of
// everything the read saw, so it replaces exactly those siblings.
func (n *Node) writeBack(ctx context.Context, ns meta.Namespace, key []byte, read, resolved dvv.Object) {
	sib := resolved.Siblings()[0]
	_, err := n.put(ctx, PutRequest{
		Namespace: ns.Name, Key: key, Value: sib.Value, Tombstone: sib.Tombstone,
		Context: n.seal(ns.Name, key, read),
	}, 0)
	if err != nil {
		n.log.Debug("on_read write-back failed; the next read retries", "namespace", ns.Name, "err", err)
	}
}

// Put writes (or deletes) a key: this node coordinates the write if it is
// in the key's preference list, and forwards it to one that is otherwise.
func (n *Node) Put(ctx context.Context, req PutRequest) (Result, error) {
	n.inflight.Add(1)
	defer n.inflight.Add(-1)
	res, err := n.put(ctx, req, 0)
	var conf *errs.ConflictError
	switch {
	case err == nil:
		res.Context = n.seal(req.Namespace, req.Key, res.Object)
	case errors.As(err, &conf):
		conf.Context = n.seal(req.Namespace, req.Key, conf.Current)
	}
	return res, err
}

// maxHops bounds forwarding: a write is forwarded at most once.
const maxHops = 1

func (n *Node) put(ctx context.Context, req PutRequest, hops int) (Result, error) {
	ns, err := n.namespace(req.Namespace)
	if err != nil {
		return Result{}, err
	}
	if err := checkKey(ns, req.Key); err != nil {
		return Result{}, err
	}
	if uint64(len(req.Value)) > ns.Limits.MaxValueBytes {
		return Result{}, &errs.LimitError{Limit: "max_value_bytes", Max: ns.Limits.MaxValueBytes, Actual: uint64(len(req.Value)),
			Hint: "store large objects elsewhere and keep a reference here, or raise the namespace limit"}
	}
	if req.Tombstone && len(req.Value) > 0 {
		return Result{}, errs.Invalid("value", "a delete carries no value")
	}
	if err := checkQuorum("w", req.W, ns); err != nil {
		return Result{}, err
	}
	if req.DW > orDefault(req.W, ns.W) {
		return Result{}, errs.Invalid("dw", "dw is %d; it must be at most w (%d)", req.DW, orDefault(req.W, ns.W))
	}
	if req.DW > 0 && ns.Durability != meta.DurabilitySync {
		return Result{}, errs.Invalid("dw", "namespace %q is buffered: its replicas acknowledge writes before they reach disk, so there is no durable acknowledgement to wait for; leave dw unset, or make the namespace sync (concord namespace update %s --durability sync)", ns.Name, ns.Name)
	}
	if err := n.checkReachable("w", int(orDefault(req.W, ns.W)), ns, req.Key); err != nil {
		return Result{}, err
	}
	if len(req.Context) > maxContextBytes {
		return Result{}, errs.Invalid("context", "the context is %d bytes, more than any context concord issues (%d); pass back the context bytes from a Get or Put unchanged", len(req.Context), maxContextBytes)
	}
	clock, err := n.openContext(ns.Name, req.Key, req.Context)
	if err != nil {
		return Result{}, err
	}
	if req.Tombstone && len(req.Context) == 0 && !req.Force {
		return Result{}, errs.Invalid("context", "a delete needs the context of a read (so it removes only what you saw), or force=true to delete blindly")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	w := int(orDefault(req.W, ns.W))
	dw := int(min(orDefault(req.DW, ns.DW), uint32(w)))
	if ns.Durability != meta.DurabilitySync {
		dw = 0 // the namespace's dw applies while it is sync (a request's dw was refused above)
	}
	if ok, others := n.coord.IsCoordinator(ns.StorageName(), req.Key, int(ns.N)); !ok {
		if hops >= maxHops {
			return Result{}, peer.ErrNotCoordinator // the forwarding node asks the next replica
		}
		return n.forward(ctx, req, others, w)
	}
	sib := dvv.Sibling{Value: req.Value, Tombstone: req.Tombstone, Timestamp: n.cfg.Now().UnixNano()}
	if sib.Value == nil {
		sib.Value = []byte{}
	}
	apply := func(cur dvv.Object) (dvv.Object, error) {
		if req.IfAbsent && cur.HasLive() {
			return dvv.Object{}, errs.ErrAlreadyExists
		}
		if req.IfContextCurrent && !cur.Context().Equal(clock) {
			return dvv.Object{}, &errs.ConflictError{Current: cur}
		}
		if req.Tombstone && req.Force && len(req.Context) == 0 {
			clock = cur.Context() // a forced delete removes everything this coordinator holds
		}
		actor, err := n.actors.Pick(n.replica.Partition(ns.StorageName(), req.Key), cur, clock, ns.Durability == meta.DurabilitySync)
		if err != nil {
			return dvv.Object{}, err
		}
		next := cur.Update(actor, clock, sib)
		if r := ns.Resolver; r != nil && r.Mode == meta.ModeOnWrite && next.Len() > 1 {
			if merged, ok := n.resolveSiblings(ctx, ns, req.Key, next, r.WriteDeadline); ok {
				next = next.Resolve(actor, merged)
			}
		}
		if max := ns.Limits.MaxSiblings; uint32(next.Len()) > max && next.Len() > cur.Len() {
			return dvv.Object{}, &errs.LimitError{Limit: "max_siblings", Max: uint64(max), Actual: uint64(next.Len()), Exhausted: true,
				Hint: "read the key, merge its siblings and write back with the context"}
		}
		return next, nil
	}
	obj, acks, err := n.coord.Write(ctx, coord.WriteRequest{
		Namespace: ns.StorageName(), Key: req.Key, N: int(ns.N), W: w, DW: dw,
		Sync: ns.Durability == meta.DurabilitySync, Apply: apply,
	})
	if err != nil {
		return Result{Object: obj, Replies: acks}, n.storageFailed("put", err)
	}
	return Result{Object: obj, Replies: acks}, nil
}

// forward hands a write to a preference-list node, trying them in order.
// A node that answers decides: its success or its error (a client error, or
// a QuorumError after it applied the write) goes back to the client as is,
// and no other node is asked, since a second coordinator would apply the
// write again. Only a node that did not answer (peer.ErrNoAnswer) or that
// does not coordinate the key (peer.ErrNotCoordinator; it did nothing) is
// skipped.
func (n *Node) forward(ctx context.Context, req PutRequest, to []string, w int) (Result, error) {
	if n.peers == nil {
		return Result{}, &errs.QuorumError{Op: "write", Need: w, Got: 0}
	}
	for _, id := range to {
		obj, acks, err := n.peers.Coordinate(ctx, id, peer.CoordinateRequest{
			Namespace: req.Namespace, Key: req.Key, Value: req.Value, Context: req.Context,
			W: req.W, DW: req.DW, IfAbsent: req.IfAbsent, IfContextCurrent: req.IfContextCurrent,
			Tombstone: req.Tombstone, Force: req.Force, Hops: 1,
		})
		if err == nil {
			return Result{Object: obj, Replies: acks}, nil
		}
		if !errors.Is(err, peer.ErrNoAnswer) && !errors.Is(err, peer.ErrNotCoordinator) {
			return Result{}, err
		}
		n.log.Debug("forward: trying the next replica", "to", id, "err", err)
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
	}
	return Result{}, &errs.QuorumError{Op: "write", Need: w, Got: 0}
}

// ListRequest lists the live keys of a namespace.
type ListRequest struct {
	Namespace string
	Prefix    []byte
	After     []byte // a token from an earlier page; empty: from the start
}

// ListKeys calls yield for every live key of a namespace, partition by
// partition and in key order inside each, with a token that resumes the
// listing after that key. It stops when yield returns false. Each
// partition is read from one replica: this node's if it holds the
// partition, another's over peer RPC otherwise.
func (n *Node) ListKeys(ctx context.Context, req ListRequest, yield func(key, token []byte) bool) error {
	ns, err := n.namespace(req.Namespace)
	if err != nil {
		return err
	}
	start, after, err := decodeListToken(req.After)
	if err != nil {
		return err
	}
	for p := start; int(p) < n.replica.Partitions(); p++ {
		var resume []byte // list keys strictly after this one
		if p == start {
			resume = after
		}
		stop := false
		visit := func(key []byte, obj dvv.Object) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if resume != nil && bytes.Compare(key, resume) <= 0 {
				return true, nil
			}
			if !bytes.HasPrefix(key, req.Prefix) {
				return bytes.Compare(key, req.Prefix) < 0, nil // before the prefix: go on; past it: done
			}
			if !obj.HasLive() {
				return true, nil
			}
			if !yield(key, encodeListToken(p, key)) {
				stop = true
				return false, nil
			}
			return true, nil
		}
		if err := n.scanPartition(ctx, p, ns, req.Prefix, resume, visit); err != nil {
			return n.storageFailed("list", err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// scanPartition visits a namespace's objects in one partition from a replica
// that holds it completely, starting near from (or after resume).
func (n *Node) scanPartition(ctx context.Context, p uint16, ns meta.Namespace, from, resume []byte, visit func([]byte, dvv.Object) (bool, error)) error {
	pref, _ := n.Replicas(p, int(ns.N))
	if slices.Contains(pref[:min(len(pref), int(ns.N))], n.id) && !n.receiving(p) {
		if resume != nil && bytes.Compare(resume, from) > 0 {
			from = resume
		}
		return n.replica.Scan(p, ns.StorageName(), from, func(e replica.Entry) (bool, error) { return visit(e.Key, e.Object) })
	}
	// Old replicas still handing the partition over come last in pref:
	// they hold it whole, so ask them first.
	var lastErr error = errs.ErrUnavailable
	for i := len(pref) - 1; i >= 0; i-- {
		id := pref[i]
		if id == n.id || !n.Alive(id) || n.peers == nil {
			continue
		}
		if lastErr = n.scanRemote(ctx, id, p, ns.StorageName(), resume, visit); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (n *Node) scanRemote(ctx context.Context, id string, p uint16, ns string, resume []byte, visit func([]byte, dvv.Object) (bool, error)) error {
	req := peer.TransferRequest{Partition: p, Namespace: ns, BatchSize: 1024}
	if resume != nil {
		req.Cursor = keys.Data(p, ns, resume)
	}
	t := n.peers.Transfer(ctx, id, req)
	defer t.Close()
	for t.Next() {
		o := t.Object()
		if more, err := visit(o.Key, o.Object); err != nil || !more {
			return err
		}
	}
	return t.Err()
}

// receiving reports whether this node is still fetching a partition in a
// ring change (its copy may be incomplete).
func (n *Node) receiving(p uint16) bool {
	_, progress, complete := n.Handoffs()
	if complete {
		return false
	}
	for _, pr := range progress {
		if pr.Partition == int(p) && pr.To == n.id && !pr.Done {
			return true
		}
	}
	return false
}

const listTokenVersion = 1

func encodeListToken(p uint16, key []byte) []byte {
	b := []byte{listTokenVersion}
	b = binary.BigEndian.AppendUint16(b, p)
	return append(b, key...)
}

func decodeListToken(tok []byte) (uint16, []byte, error) {
	if len(tok) == 0 {
		return 0, nil, nil
	}
	if len(tok) < 3 || tok[0] != listTokenVersion {
		return 0, nil, errs.Invalid("page_token", "the page token is not one concord issued; pass back next_page_token unchanged")
	}
	return binary.BigEndian.Uint16(tok[1:3]), tok[3:], nil
}

func (n *Node) namespace(name string) (meta.Namespace, error) {
	if name == "" {
		return meta.Namespace{}, errs.Invalid("namespace", "namespace is required (every store has %q)", meta.DefaultNamespace)
	}
	return n.meta.Get(name)
}

func checkKey(ns meta.Namespace, key []byte) error {
	if len(key) == 0 {
		return errs.Invalid("key", "key is empty; keys are 1 to %d bytes", ns.Limits.MaxKeyBytes)
	}
	if uint32(len(key)) > ns.Limits.MaxKeyBytes {
		return &errs.LimitError{Limit: "max_key_bytes", Max: uint64(ns.Limits.MaxKeyBytes), Actual: uint64(len(key))}
	}
	return nil
}

// checkQuorum validates a per-request r or w against the namespace's n.
func checkQuorum(name string, v uint32, ns meta.Namespace) error {
	if v > ns.N {
		return errs.Invalid(name, "%s is %d but namespace %q keeps only n=%d replicas; use 1 to %d", name, v, ns.Name, ns.N, ns.N)
	}
	return nil
}

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// storageFailed logs an internal failure and hides its text from the client.
func (n *Node) storageFailed(op string, err error) error {
	if errs.IsClientError(err) {
		return err
	}
	n.log.Error("storage failure", "op", op, "err", err)
	return fmt.Errorf("%w: %s failed", errs.ErrUnavailable, op)
}
