package node

import (
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/replica"
)

// Usage is what a namespace stores: its live keys and their bytes (each
// key's own and its live values'). See package usage.
type Usage = replica.Usage

// NamespaceUsage estimates what a namespace stores across the cluster,
// one replica counted: the figures its quotas (max_keys,
// max_stored_bytes) are checked against. Every node's figures reach the
// others by gossip, so the estimate is a few seconds behind the writes
// (package usage).
func (n *Node) NamespaceUsage(name string) (keys, bytes int64, err error) {
	ns, err := n.meta.Get(name)
	if err != nil {
		return 0, 0, err
	}
	u := n.clusterUsage(ns)
	return u.Keys, u.Bytes, nil
}

// LocalUsage is what this node's replica holds of each namespace (its
// current incarnation), by name: every replica it keeps is counted.
// Namespaces that hold nothing here are left out.
func (n *Node) LocalUsage() map[string]Usage {
	all := n.replica.UsageAll()
	out := map[string]Usage{}
	for _, ns := range n.meta.List() {
		if u, ok := all[ns.StorageName()]; ok {
			out[ns.Name] = u
		}
	}
	return out
}

// clusterUsage is the usage estimate of ns over the ring's members (this
// node alone before it has a ring).
func (n *Node) clusterUsage(ns meta.Namespace) Usage {
	members := []string{n.id}
	if r, ok := n.top.Ring(); ok {
		members = members[:0]
		for _, m := range r.Members() {
			members = append(members, string(m.ID))
		}
	}
	return n.usage.Estimate(ns.StorageName(), members, min(int(ns.N), max(len(members), 1)))
}

// publishUsage spreads this node's usage document; a node without a
// cluster has no one to tell.
func (n *Node) publishUsage(d membership.Doc) error {
	if n.members == nil {
		return nil
	}
	return n.members.Publish(d)
}

// frontUsage is the node's usage estimate as the KV front checks quotas
// against it.
type frontUsage struct{ n *Node }

func (u frontUsage) NamespaceUsage(ns meta.Namespace) Usage { return u.n.clusterUsage(ns) }

// hasQuota reports whether the namespace stored under storage name
// storageNS has a quota on its keys or bytes (usage.Config.Quota).
func (n *Node) hasQuota(storageNS string) bool {
	ns, err := n.incs.Namespace(storageNS)
	return err == nil && (ns.Limits.MaxKeys > 0 || ns.Limits.MaxStoredBytes > 0)
}
