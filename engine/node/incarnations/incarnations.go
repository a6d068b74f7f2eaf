// Package incarnations keeps a namespace's data to one incarnation of it
// (package meta). The client API resolves a namespace name to its current
// incarnation's storage namespace ([Keeper.StorageName]), and everything
// below (replica store, coordinator, hints, anti-entropy, handoff, purge,
// peer RPC) carries that storage namespace as an opaque name. Data of
// other incarnations is invisible to clients, and a [Keeper] keeps it from
// spreading and removes it:
//
//   - objects from other nodes are merged (or kept as hints) only for a
//     live incarnation ([Keeper.Live]); those of a dead one are discarded
//     and acknowledged, those of an unknown one (metadata not here yet)
//     refused with a retryable error, so their sender keeps them and
//     retries;
//   - every node drops the data and hints of dead incarnations at start
//     and whenever namespace metadata changes ([Keeper.DropDead]), and the
//     data again on every purge round ([Keeper.DropDeadData]: a write that
//     raced a metadata change).
package incarnations

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
)

// ErrUnknown refuses objects of an incarnation this node has no metadata
// for yet. It is retryable: the sender keeps them.
var ErrUnknown = fmt.Errorf("%w: namespace metadata not received yet", errs.ErrUnavailable)

// Namespaces is the namespace metadata (*meta.Store).
type Namespaces interface {
	Get(name string) (meta.Namespace, error)
	Fate(storageName string) meta.Fate
}

// Hints are the hints this node keeps (*replica.Store).
type Hints interface {
	HintBacklog() int64
	DropHint(h replica.Hint) error
}

// Config builds a Keeper.
type Config struct {
	Namespaces Namespaces
	Data       storage.Reader // the node's store, scanned for dead data and hints
	Hints      Hints
	// DeleteRanges deletes data ranges, keeping the node's anti-entropy
	// trees and actor floors right.
	DeleteRanges func(ranges [][2][]byte) error
	Partitions   int
	Logger       *slog.Logger
}

// Keeper applies the incarnation rules. It is safe for concurrent use.
type Keeper struct{ cfg Config }

// New returns a Keeper.
func New(cfg Config) *Keeper { return &Keeper{cfg: cfg} }

// Live reports whether a storage namespace is a live incarnation here.
func (k *Keeper) Live(storageName string) bool {
	return k.cfg.Namespaces.Fate(storageName) == meta.Live
}

// LiveObjects returns the objects of live incarnations, leaving out those
// of dead ones; it fails with ErrUnknown if any is of an unknown
// incarnation.
func (k *Keeper) LiveObjects(objs []peer.Object) ([]peer.Object, error) {
	var live []peer.Object // nil while every object so far is live
	for i, o := range objs {
		switch k.cfg.Namespaces.Fate(o.Namespace) {
		case meta.Live:
			if live != nil {
				live = append(live, o)
			}
		case meta.Dead:
			if live == nil {
				live = append(make([]peer.Object, 0, len(objs)), objs[:i]...)
			}
		default:
			return nil, fmt.Errorf("%w (%q)", ErrUnknown, o.Namespace)
		}
	}
	if live == nil {
		return objs, nil
	}
	return live, nil
}

// StorageName maps a client's namespace name to the storage namespace of
// its current incarnation; a name that is not a live namespace stays as it
// is.
func (k *Keeper) StorageName(name string) string {
	if ns, err := k.cfg.Namespaces.Get(name); err == nil {
		return ns.StorageName()
	}
	return name
}

// Namespace returns the namespace whose current incarnation is stored
// under storageName, or errs.ErrNamespaceNotFound.
func (k *Keeper) Namespace(storageName string) (meta.Namespace, error) {
	name, inc, err := meta.ParseStorageName(storageName)
	if err != nil {
		return meta.Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, storageName)
	}
	ns, err := k.cfg.Namespaces.Get(name)
	if err != nil {
		return meta.Namespace{}, err
	}
	if ns.Incarnation != inc {
		return meta.Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, storageName)
	}
	return ns, nil
}

// DropDead deletes the data and the hints of every namespace incarnation
// that is dead on this node: at start and whenever namespace metadata
// changes.
func (k *Keeper) DropDead() {
	k.DropDeadData()
	hints, err := k.dropDeadHints()
	if err != nil {
		k.cfg.Logger.Error("drop hints of deleted namespaces", "err", err)
	} else if hints > 0 {
		k.cfg.Logger.Info("dropped hints of deleted namespaces", "hints", hints)
	}
}

// DropDeadData deletes the data of dead incarnations (range deletions:
// cheap whatever its size). Purge rounds run it too, for a write that
// raced a metadata change; a hint that raced one is discarded where it is
// delivered.
func (k *Keeper) DropDeadData() {
	ranges, dead, err := k.deadRanges()
	if err == nil && len(ranges) > 0 {
		err = k.cfg.DeleteRanges(ranges)
	}
	if err != nil {
		k.cfg.Logger.Error("drop data of deleted namespaces", "err", err)
		return
	}
	if len(ranges) > 0 {
		k.cfg.Logger.Info("dropped data of deleted namespaces", "storage_namespaces", dead, "ranges", len(ranges))
	}
}

// deadRanges lists the ranges of dead incarnations in every partition. It
// seeks from one storage namespace to the next, so it reads one key per
// namespace and partition, not the data.
func (k *Keeper) deadRanges() (ranges [][2][]byte, dead []string, err error) {
	lo, _ := keys.PartitionRange(0)
	_, hi := keys.PartitionRange(uint16(k.cfg.Partitions - 1))
	it, err := k.cfg.Data.NewIter(lo, hi)
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
			fate = k.cfg.Namespaces.Fate(ns)
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
func (k *Keeper) dropDeadHints() (int, error) {
	if k.cfg.Hints.HintBacklog() == 0 {
		return 0, nil
	}
	lo, hi := keys.HintRange("")
	it, err := k.cfg.Data.NewIter(lo, hi)
	if err != nil {
		return 0, err
	}
	var doomed []replica.Hint
	for ok := it.First(); ok; ok = it.Next() {
		owner, ns, key, err := keys.ParseHint(it.Key())
		if err != nil || k.cfg.Namespaces.Fate(ns) != meta.Dead {
			continue
		}
		if obj, err := dvv.Unmarshal(it.Value()); err == nil {
			doomed = append(doomed, replica.Hint{Owner: owner, Namespace: ns, Key: append([]byte(nil), key...), Object: obj})
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	for _, h := range doomed {
		if err := k.cfg.Hints.DropHint(h); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}
