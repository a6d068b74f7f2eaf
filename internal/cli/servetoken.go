package cli

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/concord-kv/concord/engine/node"
)

// The admin credential of `concord serve`: given at a node's first start
// by --admin-token-file, CONCORD_ADMIN_TOKEN (--admin-token) or the config
// file, and otherwise, for a node that starts a cluster (no --join) and has
// none, generated into the data directory (mode 0600). Its path is logged,
// never the credential. A node started with --join and no credential
// takes the cluster's from gossip. See docs/security.md.

// firstAdminToken is the credential the flags give, if any.
func (f *serveFlags) firstAdminToken() (string, error) {
	switch {
	case f.adminToken != "" && f.adminTokenFile != "":
		return "", errors.New("give --admin-token (CONCORD_ADMIN_TOKEN) or --admin-token-file, not both")
	case f.adminTokenFile != "":
		return readTokenFile(f.adminTokenFile)
	}
	return f.adminToken, nil
}

// ensureAdminToken gives a node that starts a cluster without an admin
// credential one generated into its data directory.
func (f *serveFlags) ensureAdminToken(n *node.Node, log *slog.Logger) error {
	if n.HasAdminCredential() || len(f.join) > 0 {
		return nil
	}
	path := filepath.Join(f.dataDir, adminTokenFile)
	tok, created, err := loadOrCreateToken(path)
	if err != nil {
		return err
	}
	if _, err := n.InitAdminCredential(tok); err != nil {
		return err
	}
	if created {
		log.Warn("no admin credential was given: one was generated; read it from the file (owner only) and keep it safe", "file", path)
	}
	return nil
}
