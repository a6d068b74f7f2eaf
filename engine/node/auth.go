package node

import (
	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/membership"
)

// Credentials: the admin credential and the namespace tokens
// ([auth.Store]), spread to every node as cluster-metadata documents. The
// server checks every call with Authenticate; what a principal may do is
// the server's table (internal/server/authz.go).

// openAuth loads the credentials and, on a first start, takes
// Config.AdminToken.
func (n *Node) openAuth() (*auth.Store, error) {
	s, err := auth.Open(n.eng, n.cfg.Now, n.log.With("component", "auth"))
	if err != nil || n.cfg.AdminToken == "" {
		return s, err
	}
	same, err := s.InitAdmin(n.cfg.AdminToken)
	if err != nil {
		return nil, err
	}
	if !same {
		n.log.Warn("the admin credential given differs from the stored one (set at first start, or rotated since): the stored one stays (see docs/security.md on rotation)")
	}
	return s, nil
}

// publishDoc spreads a changed cluster-metadata document (a single node
// has no one to tell).
func (n *Node) publishDoc(d membership.Doc) {
	if n.members == nil {
		return
	}
	if err := n.members.Publish(d); err != nil {
		n.log.Error("publish document", "doc", d.Name, "err", err)
	}
}

// Authenticate returns who holds a bearer credential, or
// auth.ErrUnauthenticated.
func (n *Node) Authenticate(bearer string) (auth.Principal, error) {
	return n.auth.Authenticate(bearer)
}

// HasAdminCredential reports whether the node knows the admin credential
// (its own from the first start, or the cluster's).
func (n *Node) HasAdminCredential() bool { return n.auth.HasAdmin() }

// CreateToken makes a token for an existing namespace and returns it with
// its bearer credential (shown once: only its hash is kept).
func (n *Node) CreateToken(namespace string, scopes auth.Scope, description string) (auth.Token, string, error) {
	if _, err := n.meta.Get(namespace); err != nil {
		return auth.Token{}, "", err
	}
	return n.auth.Create(namespace, scopes, description)
}

// Tokens lists the live tokens of a namespace (all when empty).
func (n *Node) Tokens(namespace string) []auth.Token { return n.auth.List(namespace) }

// Token returns a live token (auth.ErrTokenNotFound if there is none).
func (n *Node) Token(id string) (auth.Token, error) { return n.auth.Token(id) }

// RevokeToken revokes a token on every node within a gossip interval.
func (n *Node) RevokeToken(id string) error { return n.auth.Revoke(id) }

// InitAdminCredential sets the admin credential if the node has none yet
// (neither its own nor the cluster's) and reports whether secret is now
// the node's admin credential. `concord serve` uses it for a node that
// starts a cluster without one.
func (n *Node) InitAdminCredential(secret string) (bool, error) { return n.auth.InitAdmin(secret) }

// RotateAdminCredential replaces the admin credential with secret (a newer
// auth/admin document): every node switches within a gossip interval and
// the old credential stops working. It returns the new version.
func (n *Node) RotateAdminCredential(secret string) (uint64, error) {
	return n.auth.RotateAdmin(secret)
}
