package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
)

// DefaultNamespace is the namespace every fresh store has.
const DefaultNamespace = "default"

const kindNamespace = "ns"

// Store keeps the namespaces of a node, persisted in its engine. It is safe
// for concurrent use; reads are served from memory.
type Store struct {
	eng      storage.Engine
	defaults Defaults
	now      func() time.Time

	mu      sync.RWMutex
	nss     map[string]Namespace // deleted ones included
	publish func(Namespace)
	// largestValue is the largest MaxValueBytes of a namespace that is
	// not deleted, kept as nss changes.
	largestValue atomic.Uint64
}

// OnChange sets a function called after every local change (create,
// update, delete) with the namespace's new version, so the node can spread
// it to the cluster. Call it before the store is shared.
func (s *Store) OnChange(publish func(Namespace)) { s.publish = publish }

// Apply stores a namespace version received from the cluster if it is at
// least as new as the local one. It reports whether anything changed.
func (s *Store) Apply(ns Namespace) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.nss[ns.Name]; ok && (cur.Version > ns.Version || sameNamespace(cur, ns)) {
		return false, nil
	}
	return true, s.putLocked(ns)
}

func sameNamespace(a, b Namespace) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Encode and Decode are the namespace document format of cluster metadata.
func Encode(ns Namespace) ([]byte, error) { return json.Marshal(ns) }

// Decode parses a namespace document.
func Decode(b []byte) (Namespace, error) {
	var ns Namespace
	err := json.Unmarshal(b, &ns)
	return ns, err
}

// Open loads the namespaces from eng and creates the default namespace if the
// store has none. now stamps creation times.
func Open(eng storage.Engine, d Defaults, now func() time.Time) (*Store, error) {
	s := &Store{eng: eng, defaults: d, now: now, nss: map[string]Namespace{}}
	lo, hi := keys.MetaRange(kindNamespace)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("meta: load namespaces: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		var ns Namespace
		if err := json.Unmarshal(it.Value(), &ns); err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("meta: decode namespace %q: %w", it.Key(), err)
		}
		s.nss[ns.Name] = ns
	}
	s.sizesChangedLocked()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("meta: load namespaces: %w", err)
	}
	if len(s.nss) == 0 {
		// Incarnation 0: every fresh node creates this same namespace, and
		// they must agree on where its data lives.
		if _, err := s.create(Namespace{Name: DefaultNamespace}, func(uint64) uint64 { return 0 }); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Defaults returns the defaults new namespaces take.
func (s *Store) Defaults() Defaults { return s.defaults }

// Get returns a namespace or errs.ErrNamespaceNotFound.
func (s *Store) Get(name string) (Namespace, error) {
	s.mu.RLock()
	ns, ok := s.nss[name]
	s.mu.RUnlock()
	if !ok || ns.Deleted {
		return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, name)
	}
	return ns, nil
}

// Fate says what becomes of data stored under a storage namespace
// ([Namespace.StorageName]) on this node: [Live] for the current incarnation
// of an existing namespace, [Dead] for one deleted or superseded, [Unknown]
// for one this node has no metadata for yet (or a malformed name).
func (s *Store) Fate(storageName string) Fate {
	name, inc, err := ParseStorageName(storageName)
	if err != nil {
		return Unknown
	}
	s.mu.RLock()
	cur, ok := s.nss[name]
	s.mu.RUnlock()
	if !ok {
		return Unknown
	}
	return cur.Fate(inc)
}

// List returns all namespaces sorted by name.
func (s *Store) List() []Namespace {
	s.mu.RLock()
	out := make([]Namespace, 0, len(s.nss))
	for _, ns := range s.nss {
		if !ns.Deleted {
			out = append(out, ns)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// All returns every namespace version this store holds, deleted ones
// included (for cluster gossip).
func (s *Store) All() []Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Namespace, 0, len(s.nss))
	for _, ns := range s.nss {
		out = append(out, ns)
	}
	return out
}

// Create adds a namespace, filling unset settings from the defaults. It
// starts a new incarnation: a namespace created again after a delete starts
// empty.
func (s *Store) Create(ns Namespace) (Namespace, error) {
	return s.create(ns, NewIncarnation)
}

func (s *Store) create(ns Namespace, newIncarnation func(version uint64) uint64) (Namespace, error) {
	ns = ns.WithDefaults(s.defaults)
	ns.CreatedAt = s.now().UTC()
	if err := ns.Validate(); err != nil {
		return Namespace{}, err
	}
	return s.change(ns.Name, func(cur Namespace, ok bool) (Namespace, error) {
		if ok && !cur.Deleted {
			return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceExists, ns.Name)
		}
		ns.Version = cur.Version + 1
		if ns.Version > math.MaxUint32 {
			return Namespace{}, errs.Precondition("namespace %q has changed %d times; create it under another name", ns.Name, cur.Version)
		}
		ns.Incarnation = newIncarnation(ns.Version)
		return ns, nil
	})
}

// Update replaces a namespace's settings with those of ns (already merged
// by the caller with the current ones). The name and creation time stay.
func (s *Store) Update(ns Namespace) (Namespace, error) {
	return s.change(ns.Name, func(cur Namespace, ok bool) (Namespace, error) {
		if !ok || cur.Deleted {
			return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, ns.Name)
		}
		ns.CreatedAt, ns.Version, ns.Incarnation = cur.CreatedAt, cur.Version+1, cur.Incarnation
		if err := ns.Validate(); err != nil {
			return Namespace{}, err
		}
		if ns.N != cur.N {
			return Namespace{}, errs.Invalid("n", "n cannot change after creation (it is %d); create a new namespace and copy the data", cur.N)
		}
		return ns, nil
	})
}

// Delete removes a namespace: it stays as a deleted version so the delete
// spreads through the cluster. Its data is left for the caller to remove.
func (s *Store) Delete(name string) error {
	_, err := s.change(name, func(cur Namespace, ok bool) (Namespace, error) {
		if !ok || cur.Deleted {
			return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, name)
		}
		return Namespace{Name: name, Version: cur.Version + 1, Deleted: true, CreatedAt: cur.CreatedAt, Incarnation: cur.Incarnation}, nil
	})
	return err
}

// change computes and stores a local change under the lock, then tells the
// cluster (outside the lock: publishing may call back into Apply).
func (s *Store) change(name string, fn func(cur Namespace, exists bool) (Namespace, error)) (Namespace, error) {
	s.mu.Lock()
	cur, ok := s.nss[name]
	ns, err := fn(cur, ok)
	if err == nil {
		err = s.putLocked(ns)
	}
	s.mu.Unlock()
	if err != nil {
		return Namespace{}, err
	}
	if s.publish != nil {
		s.publish(ns)
	}
	return ns, nil
}

func (s *Store) putLocked(ns Namespace) error {
	doc, err := json.Marshal(ns)
	if err != nil {
		return fmt.Errorf("meta: encode namespace: %w", err)
	}
	var b storage.Batch
	b.Set(keys.Meta(kindNamespace, ns.Name), doc)
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("meta: store namespace: %w", err)
	}
	s.nss[ns.Name] = ns
	s.sizesChangedLocked()
	return nil
}

// sizesChangedLocked recomputes largestValue (s.mu held, or the store not
// shared yet).
func (s *Store) sizesChangedLocked() {
	var largest uint64
	for _, ns := range s.nss {
		if !ns.Deleted {
			largest = max(largest, ns.Limits.MaxValueBytes)
		}
	}
	s.largestValue.Store(largest)
}

// LargestValue returns the largest max_value_bytes of any namespace that
// exists, without listing them (a server bounds a Put's body by it before
// it knows the Put's namespace).
func (s *Store) LargestValue() uint64 { return s.largestValue.Load() }
