package node

import (
	"slices"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
)

// replicates reports whether this node is in the preference list of a key
// (false for a key of a namespace it does not know).
func (n *Node) replicates(ns string, key []byte) bool {
	nsm, err := n.liveNamespace(ns) // ns is a storage namespace (incarnation.go)
	if err != nil {
		return false
	}
	pref, _ := n.Replicas(n.replica.Partition(ns, key), int(nsm.N))
	return slices.Contains(pref, n.id)
}

// checkReachable refuses a quorum no state of the cluster could meet: q
// ("r" of a read, "w" of a write) needing more nodes than can hold the key,
// which is every node of the ring (sloppy quorum reaches past the
// preference list, never past the ring). That is a configuration to
// change, not a failure to retry, so it is a PreconditionError that names
// the fix rather than a QuorumError. A node without a ring yet (joining)
// is not judged.
func (n *Node) checkReachable(q string, need int, ns meta.Namespace, key []byte) error {
	if _, ok := n.Ring(); !ok {
		return nil
	}
	pref, fallbacks := n.Replicas(n.replica.Partition(ns.StorageName(), key), int(ns.N))
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
