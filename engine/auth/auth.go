// Package auth keeps the cluster's credentials: the admin credential and
// the namespace tokens with their scopes. [Store] persists them in the
// node's storage engine under the metadata prefix and spreads them as
// cluster-metadata documents ("auth/admin", "token/<id>"), so every node
// accepts the same credentials and a revocation reaches every node within
// a gossip interval.
//
// Only hashes are kept: a token is cct_<id>_<secret> with a 256-bit random
// secret, and the store holds the id and the SHA-256 of the secret (a fast
// hash is enough for a secret that cannot be guessed; see
// docs/security.md). The admin credential is kept the same way.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-kv/concord/engine/errs"
)

// Scope is what a namespace token may do in its namespace (a set: bits may
// be combined).
type Scope uint8

const (
	// ScopeRead allows Get and ListKeys.
	ScopeRead Scope = 1 << iota
	// ScopeWrite allows Put and Delete.
	ScopeWrite
	// ScopeAdmin allows the namespace's settings, resolvers and tokens.
	ScopeAdmin
)

var scopeNames = []struct {
	s    Scope
	name string
}{{ScopeRead, "read"}, {ScopeWrite, "write"}, {ScopeAdmin, "admin"}}

// Has reports whether s includes every scope of want.
func (s Scope) Has(want Scope) bool { return want != 0 && s&want == want }

// Names lists the scopes of s: read, write, admin.
func (s Scope) Names() []string {
	var out []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (s Scope) String() string { return strings.Join(s.Names(), ",") }

// ParseScopes parses scope names (read, write, admin).
func ParseScopes(names []string) (Scope, error) {
	var s Scope
	for _, name := range names {
		i := slices.IndexFunc(scopeNames, func(n struct {
			s    Scope
			name string
		}) bool {
			return n.name == strings.TrimSpace(name)
		})
		if i < 0 {
			return 0, errs.Invalid("scopes", "%q is not a scope: use read, write or admin", name)
		}
		s |= scopeNames[i].s
	}
	if s == 0 {
		return 0, errs.Invalid("scopes", "a token needs at least one scope: read, write or admin")
	}
	return s, nil
}

// Token is a namespace token as the cluster keeps it.
type Token struct {
	ID          string    `json:"id"`
	Namespace   string    `json:"namespace"`
	Scopes      Scope     `json:"scopes"`
	Hash        []byte    `json:"sha256,omitempty"` // of the secret; dropped on revocation
	CreatedAt   time.Time `json:"created_at"`
	Description string    `json:"description,omitempty"`
	// Version is 1 for a live token and 2 once revoked: the revocation
	// wins everywhere it meets the live version.
	Version uint64 `json:"version"`
	Revoked bool   `json:"revoked,omitempty"`
}

// Principal is who a request comes from.
type Principal struct {
	// Admin is the admin credential: everything is allowed.
	Admin bool
	// Token is the namespace token, when not Admin.
	Token Token
}

// Sees reports whether p may learn that the namespace exists.
func (p Principal) Sees(namespace string) bool {
	return p.Admin || p.Token.Namespace == namespace
}

// Can reports whether p may act with scope want in namespace.
func (p Principal) Can(namespace string, want Scope) bool {
	return p.Admin || (p.Token.Namespace == namespace && p.Token.Scopes.Has(want))
}

// Errors of authentication.
var (
	// ErrUnauthenticated: no credential, or one the cluster does not know
	// (unknown, revoked, malformed).
	ErrUnauthenticated = errors.New("auth: missing or invalid credential")
	// ErrWeakAdmin: an admin credential too short to be unguessable.
	ErrWeakAdmin = errors.New("auth: the admin credential must be at least 20 characters")
	// ErrTokenNotFound: no live token with this ID (or none the caller may
	// see).
	ErrTokenNotFound = errors.New("auth: token not found")
)

const (
	tokenPrefix = "cct_"
	adminPrefix = "cca_"
	// MinAdminLen is the shortest admin credential accepted.
	MinAdminLen = 20
)

// NewAdminCredential makes a random admin credential (cca_ and 64 hex
// digits).
func NewAdminCredential() string { return adminPrefix + randomHex(32) }

// ValidAdmin checks that an admin credential is long enough.
func ValidAdmin(secret string) error {
	if len(strings.TrimSpace(secret)) < MinAdminLen || strings.TrimSpace(secret) != secret {
		return ErrWeakAdmin
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func hashOf(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// parseToken splits cct_<id>_<secret>.
func parseToken(bearer string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(bearer, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && id != "" && secret != ""
}

// matches compares hashes in constant time.
func matches(hash []byte, secret string) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hash, hashOf(secret)) == 1
}

func tokenNotFound(id string) error { return fmt.Errorf("%w: %q", ErrTokenNotFound, id) }
