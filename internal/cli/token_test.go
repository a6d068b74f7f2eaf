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
