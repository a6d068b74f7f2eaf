package peer

import (
	"encoding/hex"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
)

// A peer is checked as a client is: the peer port is for cluster members
// (mutual TLS keeps others out), but a member with a bug, or anything that
// got hold of a member's certificate, must not store what the client API
// would refuse. The handler checks every request before its Local sees it:
//
//   - a request body of at most [MaxRequestBytes] (the client splits its
//     batches to stay below it);
//   - storage namespaces that are well formed; keys that are not empty and
//     within the namespace's max_key_bytes (the ceiling when this node does
//     not know the namespace as live);
//   - every value within the namespace's max_value_bytes (the ceiling when
//     it is not live here); the Local discards objects of dead incarnations
//     and refuses those of unknown ones (see engine/node/incarnation.go);
//   - hints only for owners that are members of the ring;
//   - a purge only of tombstones: an object with a live sibling is never
//     removed by a peer (engine/replica refuses it again);
//   - a resolver module hash that is a SHA-256 in hex.

// MaxRequestBytes bounds a peer request the handler reads: room for four
// values at the value ceiling with their keys and clocks. [Client]
// splits Replicate and Purge batches to stay below it, so only an object
// larger than it (siblings together above ~64 MiB) cannot travel.
const MaxRequestBytes = 4*(meta.CeilingValueSize+meta.CeilingKeySize) + 1<<20

// batchBytes is how many bytes of objects a client puts in one request:
// half the limit, for the envelope and for what gzip cannot shrink.
const batchBytes = MaxRequestBytes / 2

// Policy tells a [Handler] what this node knows of namespaces and the
// ring, for checking requests. It must be safe for concurrent use.
type Policy interface {
	// Limits returns the limits of the namespace whose current incarnation
	// is stored under storageNamespace; ok is false for any other
	// incarnation (dead, or unknown to this node yet).
	Limits(storageNamespace string) (l meta.Limits, ok bool)
	// RingMember reports whether node id is a member of this node's ring.
	RingMember(id string) bool
}

// ceilings is the Policy of a handler given none: every namespace is
// checked against the hard ceilings, every hint owner accepted.
type ceilings struct{}

func (ceilings) Limits(string) (meta.Limits, bool) { return meta.Limits{}, false }
func (ceilings) RingMember(string) bool            { return true }

// checkKey checks a key of a storage namespace and returns that
// namespace's limits (the ceilings when it is not live here).
func (h *Handler) checkKey(ns string, key []byte) (meta.Limits, error) {
	if _, _, err := meta.ParseStorageName(ns); err != nil {
		return meta.Limits{}, errs.Invalid("namespace", "%q is not a storage namespace", ns)
	}
	lim, ok := h.policy.Limits(ns)
	if !ok {
		lim = meta.Limits{MaxValueBytes: meta.CeilingValueSize, MaxKeyBytes: meta.CeilingKeySize}
	}
	if len(key) == 0 {
		return lim, errs.Invalid("key", "empty key in namespace %q", ns)
	}
	if uint64(len(key)) > uint64(lim.MaxKeyBytes) {
		return lim, &errs.LimitError{Limit: "max_key_bytes", Max: uint64(lim.MaxKeyBytes), Actual: uint64(len(key))}
	}
	return lim, nil
}

// checkObjects checks the objects of a Replicate or a Purge.
func (h *Handler) checkObjects(objs []Object) error {
	for _, o := range objs {
		lim, err := h.checkKey(o.Namespace, o.Key)
		if err != nil {
			return err
		}
		if err := checkValues(o.Object, lim.MaxValueBytes); err != nil {
			return err
		}
	}
	return nil
}

func checkValues(obj dvv.Object, max uint64) error {
	for s := range obj.All() {
		if n := uint64(len(s.Value)); n > max {
			return &errs.LimitError{Limit: "max_value_bytes", Max: max, Actual: n}
		}
	}
	return nil
}

// checkHintOwner refuses hints for a node outside the ring: nobody would
// ever take them.
func (h *Handler) checkHintOwner(owner string) error {
	if owner != "" && !h.policy.RingMember(owner) {
		return errs.Invalid("intended_owner", "%q is not a member of the ring: hints are kept only for ring members", owner)
	}
	return nil
}

// checkPurge refuses a purge of anything but a tombstone.
func checkPurge(objs []Object) error {
	for _, o := range objs {
		if o.Object.IsZero() || o.Object.HasLive() {
			return errs.Invalid("objects", "key %q of %q is not a tombstone: only tombstones are purged", o.Key, o.Namespace)
		}
	}
	return nil
}

func checkModuleHash(sum string) error {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return errs.Invalid("sha256", "%q is not a SHA-256 in hex", sum)
	}
	return nil
}
