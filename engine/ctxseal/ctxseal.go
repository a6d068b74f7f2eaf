// Package ctxseal seals the causal contexts concord hands to clients, so
// that a context holds only what concord issued.
//
// A context ([dvv.Clock]) says which writes its holder has seen; a write
// that carries it supersedes those writes. A forged context could name
// actors that never existed (bloating the key's clock until every real
// context is refused as too large) or claim writes the client never saw.
// So every context leaves a node sealed: an HMAC-SHA256 tag over the
// namespace, the key and the clock, under a secret key of the node that
// issued it. A node accepts a context only if the tag verifies under one
// of the cluster's keys, for the same namespace and key.
//
// Each node makes its own key on first start and spreads it to the others
// in cluster metadata, so any node can open a context any other issued;
// keys are never withdrawn, so contexts stay valid across restarts and
// ring changes. The keys travel in gossip and stay secret only as long as
// gossip does (encrypt gossip on untrusted networks).
//
// Token format, version 2:
//
//	0x02 | key ID (8 bytes) | dvv context encoding | tag (16 bytes)
//
// where the key ID is the first 8 bytes of SHA-256 of the key and the tag
// the first 16 bytes of HMAC-SHA256(key, "concord/context/v2" |
// uvarint(len ns) | ns | uvarint(len key) | key | context encoding).
//
// A [Keyring] is safe for concurrent use.
package ctxseal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"slices"
	"sync"

	"github.com/concord-kv/concord/engine/dvv"
)

const (
	version = 2
	idLen   = 8
	tagLen  = 16
	// KeyLen is the length of a sealing key.
	KeyLen = 32
	domain = "concord/context/v2"
)

var (
	// ErrForged: the token is not a context this cluster issued for this
	// namespace and key.
	ErrForged = errors.New("ctxseal: the context was not issued for this key by this cluster")
	// ErrUnknownKey: the token names a key this node has not learned yet
	// (a node that joined moments ago); retrying later can succeed.
	ErrUnknownKey = errors.New("ctxseal: the context was sealed by a node this node has not heard from yet")
)

// KeyID names a sealing key in tokens.
type KeyID [idLen]byte

// String returns the ID in hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// IDOf returns the ID of a key.
func IDOf(key []byte) KeyID {
	sum := sha256.Sum256(key)
	return KeyID(sum[:idLen])
}

// NewKey returns a new random sealing key.
func NewKey() []byte {
	k := make([]byte, KeyLen)
	_, _ = rand.Read(k)
	return k
}

// Keyring seals contexts with one key and opens contexts sealed with any
// key it holds.
type Keyring struct {
	own   *secret
	ownID KeyID

	mu   sync.RWMutex
	keys map[KeyID]*secret
}

// A secret is a sealing key and the HMACs keyed with it, pooled: keying
// an HMAC hashes the key's two pads, which cost as much as hashing a
// token, and every put and get seals one.
type secret struct {
	key  []byte
	macs sync.Pool
}

func newSecret(key []byte) *secret {
	s := &secret{key: slices.Clone(key)}
	s.macs.New = func() any { return hmac.New(sha256.New, s.key) }
	return s
}

// New returns a Keyring that seals with own (KeyLen bytes).
func New(own []byte) (*Keyring, error) {
	if len(own) != KeyLen {
		return nil, errors.New("ctxseal: a key is 32 bytes")
	}
	id := IDOf(own)
	s := newSecret(own)
	return &Keyring{own: s, ownID: id, keys: map[KeyID]*secret{id: s}}, nil
}

// Own returns the sealing key and its ID.
func (k *Keyring) Own() (KeyID, []byte) { return k.ownID, slices.Clone(k.own.key) }

// Add learns another node's key. It reports whether the key was new; a
// key of the wrong length is ignored.
func (k *Keyring) Add(key []byte) bool {
	if len(key) != KeyLen {
		return false
	}
	id := IDOf(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[id]; ok {
		return false
	}
	k.keys[id] = newSecret(key)
	return true
}

// Keys returns every key held, own included.
func (k *Keyring) Keys() [][]byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([][]byte, 0, len(k.keys))
	for _, s := range k.keys {
		out = append(out, slices.Clone(s.key))
	}
	return out
}

// Seal returns the token of clock c for a key of namespace ns.
func (k *Keyring) Seal(ns string, key []byte, c dvv.Clock) []byte {
	enc := dvv.EncodeContext(c)
	tok := make([]byte, 0, 1+idLen+len(enc)+tagLen)
	tok = append(tok, version)
	tok = append(tok, k.ownID[:]...)
	tok = append(tok, enc...)
	return k.own.appendTag(tok, ns, key, enc)
}

// Open verifies a token sealed for a key of namespace ns and returns its
// clock. An empty token is the zero Clock (a write that saw nothing).
func (k *Keyring) Open(ns string, key []byte, tok []byte) (dvv.Clock, error) {
	if len(tok) == 0 {
		return dvv.Clock{}, nil
	}
	if len(tok) < 1+idLen+tagLen+1 || tok[0] != version {
		return dvv.Clock{}, ErrForged
	}
	id := KeyID(tok[1 : 1+idLen])
	enc, got := tok[1+idLen:len(tok)-tagLen], tok[len(tok)-tagLen:]
	k.mu.RLock()
	s, ok := k.keys[id]
	k.mu.RUnlock()
	if !ok {
		return dvv.Clock{}, ErrUnknownKey
	}
	var want [tagLen]byte
	if !hmac.Equal(got, s.appendTag(want[:0], ns, key, enc)) {
		return dvv.Clock{}, ErrForged
	}
	c, err := dvv.DecodeContext(enc)
	if err != nil {
		return dvv.Clock{}, ErrForged // sealed by us, so never: still refuse
	}
	return c, nil
}

// appendTag appends the tag of a context encoding of a key of ns to dst.
func (s *secret) appendTag(dst []byte, ns string, key, enc []byte) []byte {
	m := s.macs.Get().(hash.Hash)
	defer s.macs.Put(m)
	m.Reset()
	m.Write([]byte(domain))
	var n [binary.MaxVarintLen64]byte
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(ns)))])
	m.Write([]byte(ns))
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	m.Write(key)
	m.Write(enc)
	var sum [sha256.Size]byte
	return append(dst, m.Sum(sum[:0])[:tagLen]...)
}
