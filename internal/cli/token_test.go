package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// The token commands: create prints the secret once, the token works with
// its scopes only, list shows it without its secret, revoke ends it.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	out := mustRun(t, nil, "", "token", "create", "default", "--scope", "read", "--description", "reader", "--endpoint", ep)
	m := regexp.MustCompile(`token (\S+) for namespace default \(read\)\n.*\n(cct_\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token create printed:\n%s", out)
	}
	id, secret := m[1], m[2]
	reader := []string{"CONCORD_TOKEN=" + secret}
	mustRun(t, reader, "", "kv", "get", "k", "--endpoint", ep)
	if _, err := run(t, reader, "", "kv", "put", "k", "v", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "permission_denied") {
		t.Errorf("put with a read token: %v, want permission_denied", err)
	}
	list := mustRun(t, nil, "", "token", "list", "--endpoint", ep)
	if !strings.Contains(list, id) || !strings.Contains(list, "reader") || strings.Contains(list, secret[len("cct_"+id+"_"):]) {
		t.Errorf("token list:\n%s", list)
	}
	mustRun(t, nil, "", "token", "revoke", id, "--endpoint", ep)
	if _, err := run(t, reader, "", "kv", "get", "k", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("get with a revoked token: %v, want unauthenticated", err)
	}
	if _, err := run(t, nil, "", "namespace", "delete", "default", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "force") {
		t.Errorf("namespace delete default without --force: %v", err)
	}
}

// token rotate-admin prints the generated credential once with its export
// line; the old one is refused from then on and the new one works; a
// namespace token cannot rotate it.
func TestTokenRotateAdmin(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	out := mustRun(t, nil, "", "token", "create", "default", "--scope", "admin", "--endpoint", ep)
	m := regexp.MustCompile(`(cct_\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token create printed:\n%s", out)
	}
	if _, err := run(t, []string{"CONCORD_TOKEN=" + m[1]}, "", "token", "rotate-admin", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "permission_denied") {
		t.Errorf("rotate-admin with a namespace token: %v, want permission_denied", err)
	}
	out = mustRun(t, nil, "", "token", "rotate-admin", "--endpoint", ep)
	m = regexp.MustCompile(`(?m)^  export CONCORD_TOKEN=(cca_[0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "version 2") {
		t.Fatalf("rotate-admin printed:\n%s", out)
	}
	if _, err := run(t, nil, "", "namespace", "list", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("the old admin credential after rotate-admin: %v, want unauthenticated", err)
	}
	mustRun(t, []string{"CONCORD_TOKEN=" + m[1]}, "", "namespace", "list", "--endpoint", ep)
}
