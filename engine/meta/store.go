package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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

	mu  sync.RWMutex
	nss map[string]Namespace
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
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("meta: load namespaces: %w", err)
	}
	if len(s.nss) == 0 {
		if _, err := s.Create(Namespace{Name: DefaultNamespace}); err != nil {
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
	if !ok {
		return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, name)
	}
	return ns, nil
}

// List returns all namespaces sorted by name.
func (s *Store) List() []Namespace {
	s.mu.RLock()
	out := make([]Namespace, 0, len(s.nss))
	for _, ns := range s.nss {
		out = append(out, ns)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create adds a namespace, filling unset settings from the defaults.
func (s *Store) Create(ns Namespace) (Namespace, error) {
	ns = ns.WithDefaults(s.defaults)
	ns.CreatedAt = s.now().UTC()
	if err := ns.Validate(); err != nil {
		return Namespace{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nss[ns.Name]; ok {
		return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceExists, ns.Name)
	}
	return ns, s.putLocked(ns)
}

// Update replaces a namespace's settings with those of ns (already merged
// by the caller with the current ones). The name and creation time stay.
func (s *Store) Update(ns Namespace) (Namespace, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.nss[ns.Name]
	if !ok {
		return Namespace{}, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, ns.Name)
	}
	ns.CreatedAt = cur.CreatedAt
	if err := ns.Validate(); err != nil {
		return Namespace{}, err
	}
	if ns.N != cur.N {
		return Namespace{}, errs.Invalid("n", "n cannot change after creation (it is %d); create a new namespace and copy the data", cur.N)
	}
	return ns, s.putLocked(ns)
}

// Delete removes a namespace. Its data is left for the caller to remove.
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nss[name]; !ok {
		return fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, name)
	}
	var b storage.Batch
	b.Delete(keys.Meta(kindNamespace, name))
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("meta: delete namespace: %w", err)
	}
	delete(s.nss, name)
	return nil
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
	return nil
}
