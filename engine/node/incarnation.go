package node

import (
	"errors"
	"fmt"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
)

// A namespace's data belongs to one incarnation of it (package meta): the
// client API resolves a namespace name to its current incarnation's storage
// namespace, and everything below (replica store, coordinator, hints,
// anti-entropy, handoff, purge, peer RPC) carries that storage namespace
// as an opaque name. Data of other incarnations is invisible to clients,
// and this file keeps it from spreading and removes it:
//
//   - objects from other nodes are merged (or kept as hints) only for a
//     live incarnation; those of a dead one are discarded and acknowledged,
//     those of an unknown one (metadata not here yet) refused with a
//     retryable error, so their sender keeps them and retries;
//   - every node drops the data and hints of dead incarnations at start and
//     whenever namespace metadata changes, and the data again on every
//     purge round (a write that raced a metadata change).

// errUnknownIncarnation refuses objects of an incarnation this node has no
// metadata for yet. It is retryable: the sender keeps them.
var errUnknownIncarnation = fmt.Errorf("%w: namespace metadata not received yet", errs.ErrUnavailable)

// liveObjects returns the objects of live incarnations, leaving out those
// of dead ones; it fails if any is of an unknown incarnation.
func (n *Node) liveObjects(objs []peer.Object) ([]peer.Object, error) {
	var live []peer.Object // nil while every object so far is live
	for i, o := range objs {
		switch n.meta.Fate(o.Namespace) {
		case meta.Live:
			if live != nil {
				live = append(live, o)
			}
		case meta.Dead:
			if live == nil {
				live = append(make([]peer.Object, 0, len(objs)), objs[:i]...)
			}
		default:
			return nil, fmt.Errorf("%w (%q)", errUnknownIncarnation, o.Namespace)
		}
	}
	if live == nil {
		return objs, nil
	}
	return live, nil
}

// dropDeadIncarnations deletes the data and the hints of every namespace
// incarnation that is dead on this node: at start and whenever namespace
// metadata changes.
func (n *Node) dropDeadIncarnations() {
	n.dropDeadData()
	hints, err := n.dropDeadHints()
	if err != nil {
		n.log.Error("drop hints of deleted namespaces", "err", err)
	} else if hints > 0 {
		n.log.Info("dropped hints of deleted namespaces", "hints", hints)
	}
}

// dropDeadData deletes the data of dead incarnations (range deletions:
// cheap whatever its size). Purge rounds run it too, for a write that
// raced a metadata change; a hint that raced one is discarded where it is
// delivered.
func (n *Node) dropDeadData() {
	ranges, dead, err := n.deadRanges()
	if err == nil && len(ranges) > 0 {
		err = n.deleteRanges(ranges)
	}
	if err != nil {
		n.log.Error("drop data of deleted namespaces", "err", err)
		return
	}
	if len(ranges) > 0 {
		n.log.Info("dropped data of deleted namespaces", "storage_namespaces", dead, "ranges", len(ranges))
	}
}

// deadRanges lists the ranges of dead incarnations in every partition. It
// seeks from one storage namespace to the next, so it reads one key per
// namespace and partition, not the data.
func (n *Node) deadRanges() (ranges [][2][]byte, dead []string, err error) {
	lo, _ := keys.PartitionRange(0)
	_, hi := keys.PartitionRange(uint16(n.cfg.Partitions - 1))
	it, err := n.eng.NewIter(lo, hi)
	if err != nil {
		return nil, nil, err
	}
	fates := map[string]meta.Fate{}
	for ok := it.First(); ok; {
		p, ns, _, err := keys.ParseData(it.Key())
		if err != nil {
			return nil, nil, errors.Join(err, it.Close())
		}
		fate, seen := fates[ns]
		if !seen {
			fate = n.meta.Fate(ns)
			fates[ns] = fate
			if fate == meta.Dead {
				dead = append(dead, ns)
			}
		}
		nsLo, nsHi := keys.NamespaceRange(p, ns)
		if fate == meta.Dead {
			ranges = append(ranges, [2][]byte{nsLo, nsHi})
		}
		ok = it.SeekGE(nsHi)
	}
	return ranges, dead, errors.Join(it.Error(), it.Close())
}

// dropDeadHints deletes the hints of dead incarnations this node keeps.
func (n *Node) dropDeadHints() (int, error) {
	if n.replica.HintBacklog() == 0 {
		return 0, nil
	}
	lo, hi := keys.HintRange("")
	var doomed []replica.Hint
	err := n.scanRange(lo, hi, func(k, v []byte) {
		owner, ns, key, err := keys.ParseHint(k)
		if err != nil || n.meta.Fate(ns) != meta.Dead {
			return
		}
		if obj, err := dvv.Unmarshal(v); err == nil {
			doomed = append(doomed, replica.Hint{Owner: owner, Namespace: ns, Key: append([]byte(nil), key...), Object: obj})
		}
	})
	if err != nil {
		return 0, err
	}
	for _, h := range doomed {
		if err := n.replica.DropHint(h); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

// storageName maps a client's namespace name to the storage namespace of
// its current incarnation; a name that is not a live namespace stays as it
// is.
func (n *Node) storageName(name string) string {
	if ns, err := n.meta.Get(name); err == nil {
		return ns.StorageName()
	}
	return name
}

// liveNamespace returns the namespace whose current incarnation is stored
// under storageName, or errs.ErrNamespaceNotFound.
func (n *Node) liveNamespace(storageName string) (meta.Namespace, error) {
	name, inc, err := meta.ParseStorageName(storageName)
	if err != nil {
		return meta.Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, storageName)
	}
	ns, err := n.meta.Get(name)
	if err != nil {
		return meta.Namespace{}, err
	}
	if ns.Incarnation != inc {
		return meta.Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, storageName)
	}
	return ns, nil
}
