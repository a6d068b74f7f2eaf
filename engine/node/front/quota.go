package front

import (
	"fmt"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/replica"
)

// Names of the storage quotas, as errs.LimitError.Limit and the
// update_mask fields (limits.<name>) call them.
const (
	LimitMaxKeys        = "max_keys"
	LimitMaxStoredBytes = "max_stored_bytes"
)

// Usage estimates what a namespace stores across the cluster, one replica
// counted (the node's usage tracker, package engine/node/usage).
type Usage interface {
	NamespaceUsage(ns meta.Namespace) replica.Usage
}

// quota returns the check a client write of ns makes under the key's
// lock, or nil when there is nothing to check: the namespace has no quota,
// the front has no usage figures, or the write is the server's own (an
// on_read write-back). The usage estimate is read here, before the lock.
//
// Only client writes are checked, by the node that coordinates them (a
// forwarded write is checked by its coordinator): replication, read
// repair, hints, anti-entropy and handoff merge in the replica store and
// never pass here, so a quota never blocks them.
func (f *Front) quota(ns meta.Namespace, req PutRequest) func(key []byte, cur, next dvv.Object) error {
	if (ns.Limits.MaxKeys == 0 && ns.Limits.MaxStoredBytes == 0) || f.cfg.Usage == nil || req.writeBack {
		return nil
	}
	used := f.cfg.Usage.NamespaceUsage(ns)
	return func(key []byte, cur, next dvv.Object) error { return checkQuota(ns, used, key, cur, next) }
}

// checkQuota decides whether a write that turns a key's object cur into
// next may go on in namespace ns, which stores used across the cluster: a
// write that adds a key while the namespace is at or over max_keys, or
// adds bytes while it is at or over max_stored_bytes, is refused with an
// exhausted *errs.LimitError. Deletes, and overwrites that do not grow,
// always pass. A write that crosses a quota from below passes: quotas are
// enforced from the estimate, within seconds, not to the byte.
func checkQuota(ns meta.Namespace, used replica.Usage, key []byte, cur, next dvv.Object) error {
	lim := ns.Limits
	before, after := replica.UsageOf(key, cur), replica.UsageOf(key, next)
	switch {
	case lim.MaxKeys > 0 && after.Keys > before.Keys && used.Keys >= int64(lim.MaxKeys):
		return quotaError(ns, LimitMaxKeys, "max-keys", "keys", lim.MaxKeys, used.Keys)
	case lim.MaxStoredBytes > 0 && after.Bytes > before.Bytes && used.Bytes >= int64(lim.MaxStoredBytes):
		return quotaError(ns, LimitMaxStoredBytes, "max-stored-bytes", "bytes", lim.MaxStoredBytes, used.Bytes)
	}
	return nil
}

func quotaError(ns meta.Namespace, limit, flag, what string, quota uint64, used int64) error {
	return &errs.LimitError{
		Limit: limit, Max: quota, Actual: uint64(max(used, 0)), Exhausted: true,
		Hint: fmt.Sprintf("namespace %s stores about %d %s across the cluster, its quota is %d: delete or shrink values, or raise the quota (concord namespace update %s --%s N); deletes and writes that do not grow pass",
			ns.Name, used, what, quota, ns.Name, flag),
	}
}
