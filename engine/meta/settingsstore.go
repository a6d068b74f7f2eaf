package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
)

const kindSettings = "settings"

// SettingsStore keeps a node's copy of the cluster settings, persisted in
// its engine. It is safe for concurrent use; reads are served from memory
// without a lock (the request path reads the caps).
type SettingsStore struct {
	eng storage.Engine

	mu      sync.Mutex // serialises changes
	cur     atomic.Pointer[ClusterSettings]
	publish func(ClusterSettings)
}

// OpenSettings loads the cluster settings from eng; a store without them
// has the zero settings (every default), version 0.
func OpenSettings(eng storage.Engine) (*SettingsStore, error) {
	s := &SettingsStore{eng: eng}
	var cs ClusterSettings
	raw, err := eng.Get(keys.Meta(kindSettings, "cluster"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("meta: load cluster settings: %w", err)
	default:
		if cs, err = DecodeSettings(raw); err != nil {
			return nil, fmt.Errorf("meta: decode cluster settings: %w", err)
		}
	}
	s.cur.Store(&cs)
	return s, nil
}

// OnChange sets a function called after every local change with the new
// settings, so the node can spread them. Call it before the store is
// shared.
func (s *SettingsStore) OnChange(publish func(ClusterSettings)) { s.publish = publish }

// Get returns the settings as stored: zero fields are defaults not filled
// in.
func (s *SettingsStore) Get() ClusterSettings { return *s.cur.Load() }

// Update changes the settings with fn, which gets the current ones and
// returns the next; the store validates them, gives them the next version,
// stores them and publishes them.
func (s *SettingsStore) Update(fn func(cur ClusterSettings) (ClusterSettings, error)) (ClusterSettings, error) {
	s.mu.Lock()
	cur := s.Get()
	next, err := fn(cur)
	if err == nil {
		err = next.Validate()
	}
	if err == nil {
		next.Version = cur.Version + 1
		err = s.putLocked(next)
	}
	s.mu.Unlock()
	if err != nil {
		return ClusterSettings{}, err
	}
	if s.publish != nil {
		s.publish(next)
	}
	return next, nil
}

// Apply stores settings received from the cluster if they are at least as
// new as the local ones (gossip hands over only a version that wins its
// merge rule, the tie between equal versions included). It reports whether
// anything changed.
func (s *SettingsStore) Apply(cs ClusterSettings) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.Get(); cur.Version > cs.Version || cur == cs {
		return false, nil
	}
	return true, s.putLocked(cs)
}

func (s *SettingsStore) putLocked(cs ClusterSettings) error {
	raw, err := EncodeSettings(cs)
	if err != nil {
		return fmt.Errorf("meta: encode cluster settings: %w", err)
	}
	var b storage.Batch
	b.Set(keys.Meta(kindSettings, "cluster"), raw)
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("meta: store cluster settings: %w", err)
	}
	s.cur.Store(&cs)
	return nil
}

// EncodeSettings and DecodeSettings are the cluster settings document
// format of cluster metadata.
func EncodeSettings(cs ClusterSettings) ([]byte, error) { return json.Marshal(cs) }

// DecodeSettings parses a cluster settings document.
func DecodeSettings(b []byte) (ClusterSettings, error) {
	var cs ClusterSettings
	err := json.Unmarshal(b, &cs)
	return cs, err
}
