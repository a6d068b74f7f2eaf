package cli_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/tlstest"
)

// startTLSNode serves a single node over TLS and returns its https://
// endpoint.
func startTLSNode(t *testing.T, certs tlstest.Files) string {
	t.Helper()
	cfg := embed.Config{Node: node.DefaultLocalConfig(), APIAddr: "127.0.0.1:0", TLSCertFile: certs.Cert, TLSKeyFile: certs.Key}
	cfg.Node.Logger = slog.New(slog.DiscardHandler)
	cfg.Node.AdminToken = testcred.AdminToken
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e.APIURL()
}

func TestCommandsTalkToATLSEndpointWithItsCA(t *testing.T) {
	t.Parallel()
	certs := tlstest.Valid(t)
	ep := startTLSNode(t, certs)
	mustRun(t, nil, "", "kv", "put", "k", "v", "--endpoint", ep, "--ca-file", certs.CA)
	if out := mustRun(t, []string{"CONCORD_CA_FILE=" + certs.CA}, "", "kv", "get", "k", "--endpoint", ep); !strings.Contains(out, "v") {
		t.Errorf("get with CONCORD_CA_FILE = %q", out)
	}
	mustRun(t, nil, "", "namespace", "list", "--endpoint", ep, "--ca-file", certs.CA)

	_, err := run(t, nil, "", "kv", "get", "k", "--endpoint", ep)
	if err == nil || !strings.Contains(err.Error(), "--ca-file") || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("without the CA: %v, want an error naming the unknown authority and --ca-file", err)
	}
	other := tlstest.Valid(t)
	if _, err := run(t, nil, "", "kv", "get", "k", "--endpoint", ep, "--ca-file", other.CA); err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("with another CA: %v, want an error naming --ca-file", err)
	}
	if _, err := run(t, nil, "", "kv", "get", "k", "--endpoint", ep, "--ca-file", certs.Key); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("with a key as the CA file: %v", err)
	}
}

func TestServeRefusesPlaintextBeyondLoopback(t *testing.T) {
	t.Parallel()
	_, err := run(t, nil, "", "serve", "--data-dir", t.TempDir(), "--api-addr", "0.0.0.0:0")
	if err == nil || !strings.Contains(err.Error(), "--insecure-plaintext") || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("serve on 0.0.0.0 without TLS: %v, want an error naming --tls-cert and --insecure-plaintext", err)
	}
	if _, err := run(t, nil, "", "serve", "--data-dir", t.TempDir(), "--api-addr", "127.0.0.1:0", "--tls-cert", "x.crt"); err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("--tls-cert without --tls-key: %v", err)
	}
}
