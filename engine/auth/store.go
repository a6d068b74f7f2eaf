package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/storage"
)

const (
	metaKind       = "auth"
	adminName      = "admin"
	tokenKeyPrefix = "token/"
	// DocAdmin and DocTokenPrefix name the cluster-metadata documents.
	DocAdmin       = "auth/admin"
	DocTokenPrefix = "token/"
)

// admin is the admin credential's document.
type admin struct {
	Hash    []byte `json:"sha256"`
	Version uint64 `json:"version"`
}

// Store keeps the credentials of a node. It is safe for concurrent use;
// checks are served from memory.
type Store struct {
	eng storage.Engine
	now func() time.Time
	log *slog.Logger

	mu      sync.RWMutex
	admin   admin
	tokens  map[string]Token // revoked ones included, so revocations spread
	publish func(membership.Doc)
}

// Open loads the credentials from eng.
func Open(eng storage.Engine, now func() time.Time, log *slog.Logger) (*Store, error) {
	s := &Store{eng: eng, now: now, log: log, tokens: map[string]Token{}}
	lo, hi := keys.MetaRange(metaKind)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("auth: load credentials: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		name := strings.TrimPrefix(string(it.Key()), string(keys.Meta(metaKind, "")))
		if err := s.load(name, it.Value()); err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("auth: decode %q: %w", name, err)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("auth: load credentials: %w", err)
	}
	return s, nil
}

func (s *Store) load(name string, raw []byte) error {
	if name == adminName {
		return json.Unmarshal(raw, &s.admin)
	}
	var t Token
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	s.tokens[t.ID] = t
	return nil
}

// OnChange sets a function called after every local change with the
// changed document, so the node can spread it. Call it before the store is
// shared.
func (s *Store) OnChange(publish func(membership.Doc)) { s.publish = publish }

// InitAdmin sets the admin credential if the store has none (the first
// start of a node). It reports false, changing nothing, when the store
// already has a different one: the credential stays the cluster's.
func (s *Store) InitAdmin(secret string) (bool, error) {
	if err := ValidAdmin(secret); err != nil {
		return false, err
	}
	s.mu.Lock()
	if s.admin.Version > 0 {
		same := matches(s.admin.Hash, secret)
		s.mu.Unlock()
		return same, nil
	}
	a := admin{Hash: hashOf(secret), Version: 1}
	err := s.putAdminLocked(a)
	s.mu.Unlock()
	if err != nil {
		return false, err
	}
	s.notify(adminDoc(a))
	return true, nil
}

// RotateAdmin replaces the admin credential with secret as a newer version
// of the admin document, so it wins on every node it reaches and the old
// credential stops working there; an older version met later never brings
// the old hash back (OnDoc). It returns the new version. The store must
// have an admin credential already (the caller authenticated with it).
func (s *Store) RotateAdmin(secret string) (uint64, error) {
	if err := ValidAdmin(secret); err != nil {
		return 0, errs.Invalid("new_credential", "%v", err)
	}
	s.mu.Lock()
	if s.admin.Version == 0 {
		s.mu.Unlock()
		return 0, errs.Precondition("this node has no admin credential to rotate")
	}
	if matches(s.admin.Hash, secret) {
		s.mu.Unlock()
		return 0, errs.Invalid("new_credential", "the new admin credential is the current one")
	}
	a := admin{Hash: hashOf(secret), Version: s.admin.Version + 1}
	err := s.putAdminLocked(a)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	s.log.Info("admin credential rotated", "version", a.Version)
	s.notify(adminDoc(a))
	return a.Version, nil
}

// AdminVersion is the version of the admin credential in force (0: none).
func (s *Store) AdminVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.admin.Version
}

// HasAdmin reports whether an admin credential is set (here or learned
// from the cluster).
func (s *Store) HasAdmin() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.admin.Version > 0
}

// Authenticate returns who holds bearer, or ErrUnauthenticated.
func (s *Store) Authenticate(bearer string) (Principal, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id, secret, ok := parseToken(bearer); ok {
		t, found := s.tokens[id]
		if found && !t.Revoked && matches(t.Hash, secret) {
			return Principal{Token: t}, nil
		}
		return Principal{}, ErrUnauthenticated
	}
	if bearer != "" && matches(s.admin.Hash, bearer) {
		return Principal{Admin: true}, nil
	}
	return Principal{}, ErrUnauthenticated
}

// MaxDescriptionBytes bounds a token's description.
const MaxDescriptionBytes = 256

// Create makes a token for namespace with scopes and returns it with its
// bearer credential, which nothing keeps.
func (s *Store) Create(namespace string, scopes Scope, description string) (Token, string, error) {
	if scopes == 0 || scopes&^(ScopeRead|ScopeWrite|ScopeAdmin) != 0 {
		_, err := ParseScopes(nil)
		return Token{}, "", err
	}
	if len(description) > MaxDescriptionBytes || !utf8.ValidString(description) {
		return Token{}, "", errs.Invalid("description", "the description is %d bytes; it must be valid UTF-8 of at most %d bytes", len(description), MaxDescriptionBytes)
	}
	id, secret := randomHex(8), randomHex(32)
	t := Token{
		ID: id, Namespace: namespace, Scopes: scopes, Hash: hashOf(secret),
		CreatedAt: s.now().UTC(), Description: description, Version: 1,
	}
	if err := s.change(t); err != nil {
		return Token{}, "", err
	}
	return t, tokenPrefix + id + "_" + secret, nil
}

// Token returns a live token by ID.
func (s *Store) Token(id string) (Token, error) {
	s.mu.RLock()
	t, ok := s.tokens[id]
	s.mu.RUnlock()
	if !ok || t.Revoked {
		return Token{}, tokenNotFound(id)
	}
	return t, nil
}

// List returns the live tokens of namespace (all namespaces when empty),
// by namespace, then creation time.
func (s *Store) List(namespace string) []Token {
	s.mu.RLock()
	var out []Token
	for _, t := range s.tokens {
		if !t.Revoked && (namespace == "" || t.Namespace == namespace) {
			out = append(out, t)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Revoke revokes a live token: it stays as a revoked version (without its
// hash) so the revocation spreads.
func (s *Store) Revoke(id string) error {
	t, err := s.Token(id)
	if err != nil {
		return err
	}
	t.Revoked, t.Version, t.Hash = true, 2, nil
	return s.change(t)
}

// RevokeNamespace revokes every token of a namespace (when it is deleted:
// a namespace created again under the name starts without tokens).
func (s *Store) RevokeNamespace(namespace string) error {
	var errs []error
	for _, t := range s.List(namespace) {
		errs = append(errs, s.Revoke(t.ID))
	}
	return errors.Join(errs...)
}

func (s *Store) change(t Token) error {
	s.mu.Lock()
	err := s.putTokenLocked(t)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.notify(tokenDoc(t))
	return nil
}

func (s *Store) notify(d membership.Doc) {
	if s.publish != nil {
		s.publish(d)
	}
}

// Docs are the credential documents this node holds, for gossip.
func (s *Store) Docs() []membership.Doc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var docs []membership.Doc
	if s.admin.Version > 0 {
		docs = append(docs, adminDoc(s.admin))
	}
	for _, t := range s.tokens {
		docs = append(docs, tokenDoc(t))
	}
	return docs
}

func adminDoc(a admin) membership.Doc {
	raw, _ := json.Marshal(a) // cannot fail
	return membership.Doc{Name: DocAdmin, Version: a.Version, Data: raw}
}

func tokenDoc(t Token) membership.Doc {
	raw, _ := json.Marshal(t) // cannot fail
	return membership.Doc{Name: DocTokenPrefix + t.ID, Version: t.Version, Data: raw}
}

// OnDoc takes a credential document from gossip (gossip hands over only
// documents newer than the ones it had) and reports whether d was one.
func (s *Store) OnDoc(d membership.Doc) bool {
	switch {
	case d.Name == DocAdmin:
		var a admin
		if err := json.Unmarshal(d.Data, &a); err != nil || len(a.Hash) == 0 {
			s.log.Warn("bad admin credential document", "err", err)
			return true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.admin.Version > a.Version || bytes.Equal(s.admin.Hash, a.Hash) && s.admin.Version == a.Version {
			return true
		}
		switch {
		case s.admin.Version > 0 && s.admin.Version < a.Version:
			s.log.Info("the admin credential was rotated", "version", a.Version)
		case s.admin.Version > 0 && !bytes.Equal(s.admin.Hash, a.Hash):
			s.log.Warn("the cluster's admin credential replaces this node's: nodes were started with different admin credentials")
		}
		if err := s.putAdminLocked(a); err != nil {
			s.log.Error("store admin credential", "err", err)
		}
		return true
	case strings.HasPrefix(d.Name, DocTokenPrefix):
		var t Token
		if err := json.Unmarshal(d.Data, &t); err != nil || d.Name != DocTokenPrefix+t.ID || t.ID == "" {
			s.log.Warn("bad token document", "doc", d.Name, "err", err)
			return true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur, ok := s.tokens[t.ID]; ok && (cur.Revoked || cur.Version >= t.Version) {
			return true
		}
		if err := s.putTokenLocked(t); err != nil {
			s.log.Error("store token", "token", t.ID, "err", err)
		}
		return true
	}
	return false
}

func (s *Store) putAdminLocked(a admin) error {
	if err := s.putLocked(adminName, a); err != nil {
		return err
	}
	s.admin = a
	return nil
}

func (s *Store) putTokenLocked(t Token) error {
	if err := s.putLocked(tokenKeyPrefix+t.ID, t); err != nil {
		return err
	}
	s.tokens[t.ID] = t
	return nil
}

func (s *Store) putLocked(name string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("auth: encode %s: %w", name, err)
	}
	var b storage.Batch
	b.Set(keys.Meta(metaKind, name), raw)
	if err := s.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("auth: store %s: %w", name, err)
	}
	return nil
}
