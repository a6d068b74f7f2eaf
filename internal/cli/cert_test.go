package cli_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/pki"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertMakesACAAndNodeCertificates: `concord cert` makes a CA and node
// certificates that load as a node's peer mTLS.
func TestCertMakesACAAndNodeCertificates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := mustRun(t, nil, "", "cert", "ca", "--out", dir)
	if !strings.Contains(out, "--peer-ca") {
		t.Errorf("cert ca says:\n%s", out)
	}
	out = mustRun(t, nil, "", "cert", "node", "node1", "--ca", dir, "--out", dir, "--host", "10.0.0.5", "--host", "node1.example")
	if !strings.Contains(out, "--peer-cert "+filepath.Join(dir, "node1.crt")) {
		t.Errorf("cert node says:\n%s", out)
	}
	ca, leaf := readCert(t, filepath.Join(dir, "ca.crt")), readCert(t, filepath.Join(dir, "node1.crt"))
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA: is CA %v, key %v", ca.IsCA, ca.PublicKeyAlgorithm)
	}
	if leaf.Subject.CommonName != "node1" || !slices.Contains(leaf.DNSNames, "node1.example") || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.0.0.5" {
		t.Errorf("node certificate: CN %q, DNS %v, IPs %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("node certificate valid for %v, want a year", d)
	}
	p, err := pki.LoadPeer(pki.PeerFiles{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "node1.crt"), Key: filepath.Join(dir, "node1.key")}, time.Now())
	if err != nil || p.Name != "node1" {
		t.Fatalf("load the peer files: %v", err)
	}
	if _, err := run(t, nil, "", "cert", "ca", "--out", dir); err == nil {
		t.Error("a second CA overwrote the first")
	}
}

func TestCertRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cert", "node", "n1", "--out", dir}, "--ca is required"},
		{[]string{"cert", "node", "n1", "--ca", dir, "--out", dir}, "load the CA"},
		{[]string{"cert", "node", "bad.name", "--ca", dir, "--out", dir}, "node name"},
	} {
		if _, err := run(t, nil, "", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestServeChecksPeerSecurity: a peer port on the network needs mTLS or
// --insecure-peer, and a gossip key must be one; errors come before
// anything is served.
func TestServeChecksPeerSecurity(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--peer-addr", "0.0.0.0:0", "--advertise-host", "127.0.0.1"}, "--insecure-peer"},
		{nil, []string{"--gossip-key", "not base64!"}, "not base64"},
		{[]string{"CONCORD_GOSSIP_KEY=c2hvcnQ="}, nil, "a gossip key is 16, 24 or 32 bytes"},
		{nil, []string{"--gossip-key-file", keyFile}, "holds no key"},
		{nil, []string{"--peer-ca", "ca.crt"}, "--peer-cert"},
		{nil, []string{"--peer-ca", "none.crt", "--peer-cert", "none.crt", "--peer-key", "none.key"}, "read the cluster CA"},
	} {
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--api-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--admin-addr", ""}, tt.args...)
		if !slices.Contains(tt.args, "--peer-addr") {
			args = append(args, "--peer-addr", "127.0.0.1:0")
		}
		if _, err := run(t, tt.env, "", args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: got %v, want %q", tt.env, tt.args, err, tt.want)
		}
	}
}
