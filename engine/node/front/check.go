package front

import (
	"fmt"
	"log/slog"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
)

func (f *Front) namespace(name string) (meta.Namespace, error) {
	if name == "" {
		return meta.Namespace{}, errs.Invalid("namespace", "namespace is required (every store has %q)", meta.DefaultNamespace)
	}
	return f.cfg.Namespaces.Get(name)
}

// checkPut validates a write and opens its context.
func (f *Front) checkPut(req PutRequest) (meta.Namespace, dvv.Clock, error) {
	ns, err := f.namespace(req.Namespace)
	if err != nil {
		return ns, dvv.Clock{}, err
	}
	if err := checkKey(ns, req.Key); err != nil {
		return ns, dvv.Clock{}, err
	}
	if uint64(len(req.Value)) > ns.Limits.MaxValueBytes {
		return ns, dvv.Clock{}, &errs.LimitError{Limit: "max_value_bytes", Max: ns.Limits.MaxValueBytes, Actual: uint64(len(req.Value)),
			Hint: "store large objects elsewhere and keep a reference here, or raise the namespace limit"}
	}
	if req.Tombstone && len(req.Value) > 0 {
		return ns, dvv.Clock{}, errs.Invalid("value", "a delete carries no value")
	}
	if err := checkQuorum("w", req.W, ns); err != nil {
		return ns, dvv.Clock{}, err
	}
	if req.DW > orDefault(req.W, ns.W) {
		return ns, dvv.Clock{}, errs.Invalid("dw", "dw is %d; it must be at most w (%d)", req.DW, orDefault(req.W, ns.W))
	}
	if req.DW > 0 && ns.Durability != meta.DurabilitySync {
		return ns, dvv.Clock{}, errs.Invalid("dw", "namespace %q is buffered: its replicas acknowledge writes before they reach disk, so there is no durable acknowledgement to wait for; leave dw unset, or make the namespace sync (concord namespace update %s --durability sync)", ns.Name, ns.Name)
	}
	if err := f.checkReachable("w", int(orDefault(req.W, ns.W)), ns, req.Key); err != nil {
		return ns, dvv.Clock{}, err
	}
	if len(req.Context) > maxContextBytes {
		return ns, dvv.Clock{}, errs.Invalid("context", "the context is %d bytes, more than any context concord issues (%d); pass back the context bytes from a Get or Put unchanged", len(req.Context), maxContextBytes)
	}
	clock, err := f.cfg.Seals.Open(ns.StorageName(), req.Key, req.Context)
	if err != nil {
		return ns, dvv.Clock{}, err
	}
	if !req.Tombstone && req.Force && len(req.Context) > 0 {
		return ns, dvv.Clock{}, errs.Invalid("overwrite", "overwrite replaces every version the coordinator holds, and a context names the versions to replace: send one or the other")
	}
	if req.Tombstone && len(req.Context) == 0 && !req.Force {
		return ns, dvv.Clock{}, errs.Invalid("context", "a delete needs the context of a read (so it removes only what you saw), or force=true to delete blindly")
	}
	return ns, clock, nil
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

// checkReachable refuses a quorum no state of the cluster could meet: q
// ("r" of a read, "w" of a write) needing more nodes than can hold the key,
// which is every node of the ring (sloppy quorum reaches past the
// preference list, never past the ring). That is a configuration to
// change, not a failure to retry, so it is a PreconditionError that names
// the fix rather than a QuorumError. A node without a ring yet (joining)
// is not judged.
func (f *Front) checkReachable(q string, need int, ns meta.Namespace, key []byte) error {
	if _, ok := f.cfg.Topology.Ring(); !ok {
		return nil
	}
	pref, fallbacks := f.cfg.Topology.Replicas(f.cfg.Store.Partition(ns.StorageName(), key), int(ns.N))
	nodes := len(pref) + len(fallbacks)
	if need <= nodes {
		return nil
	}
	op, what := "read", "replies"
	if q == "w" {
		op, what = "write", "acknowledgements"
	}
	return errs.Precondition("namespace %s keeps n=%d replicas but the ring has %d %s, so no %s can get %s=%d %s: "+
		"add nodes (concord cluster join NODE, then concord cluster commit) or lower %s (concord namespace update %s --%s %d, or %s on the request)",
		ns.Name, ns.N, nodes, plural(nodes, "node", "nodes"), op, q, need, what, q, ns.Name, q, nodes, q)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// storageFailed logs an internal failure and hides its text from the
// client.
func (f *Front) storageFailed(op string, err error) error {
	return StorageFailed(f.cfg.Logger, op, err)
}

// StorageFailed logs an internal failure and returns what a client (or
// another node) may see of it: client errors as they are, anything else as
// errs.ErrUnavailable without its text.
func StorageFailed(log *slog.Logger, op string, err error) error {
	if errs.IsClientError(err) {
		return err
	}
	log.Error("storage failure", "op", op, "err", err)
	return fmt.Errorf("%w: %s failed", errs.ErrUnavailable, op)
}
