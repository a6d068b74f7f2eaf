package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/pki"
)

// files writes a CA and node name's certificate into a temporary
// directory and returns the peer files.
func files(t *testing.T, ca pki.CA, caPair pki.Pair, name string, now time.Time, validity time.Duration) pki.PeerFiles {
	t.Helper()
	dir := t.TempDir()
	caCert, _, err := caPair.Write(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(name, []string{"127.0.0.1", "node1.example"}, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pair.Write(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return pki.PeerFiles{CA: caCert, Cert: cert, Key: key}
}

func newCA(t *testing.T, now time.Time) (pki.CA, pki.Pair) {
	t.Helper()
	ca, pair, err := pki.NewCA("test CA", now, pki.DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	return ca, pair
}

func TestNodeCertificateServesBothSides(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca, caPair := newCA(t, now)
	p, err := pki.LoadPeer(files(t, ca, caPair, "n1", now, time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "n1" {
		t.Errorf("name %q, want n1", p.Name)
	}
	leaf := p.ServerConfig().Certificates[0].Leaf
	if !pki.Names(leaf, "n1") || pki.Names(leaf, "n2") {
		t.Errorf("the certificate names %q %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].IsLoopback() || !strings.Contains(strings.Join(leaf.DNSNames, ","), "node1.example") {
		t.Errorf("SANs: %v %v", leaf.IPAddresses, leaf.DNSNames)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "node1.example"}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if sc := p.ServerConfig(); sc.ClientAuth != tls.RequireAndVerifyClientCert || sc.MinVersion != tls.VersionTLS13 {
		t.Errorf("server config: client auth %v, min version %x", sc.ClientAuth, sc.MinVersion)
	}
}

// TestLoadPeerSaysWhatIsWrong: each bad set of files fails with an error
// that names the problem.
func TestLoadPeerSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca, caPair := newCA(t, now)
	good := files(t, ca, caPair, "n1", now, time.Hour)
	otherCA, otherPair := newCA(t, now)
	foreign := files(t, otherCA, otherPair, "n1", now, time.Hour)
	expired := files(t, ca, caPair, "n1", now.Add(-48*time.Hour), time.Hour)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		files pki.PeerFiles
		want  string
	}{
		{"a missing file", pki.PeerFiles{CA: good.CA, Cert: good.Cert}, "--peer-key"},
		{"an unreadable CA", pki.PeerFiles{CA: filepath.Join(t.TempDir(), "none.crt"), Cert: good.Cert, Key: good.Key}, "read the cluster CA"},
		{"a CA file without a certificate", pki.PeerFiles{CA: garbage, Cert: good.Cert, Key: good.Key}, "holds no PEM certificate"},
		{"a certificate of another CA", pki.PeerFiles{CA: good.CA, Cert: foreign.Cert, Key: foreign.Key}, "is not a node certificate of the cluster CA"},
		{"a key of another certificate", pki.PeerFiles{CA: good.CA, Cert: good.Cert, Key: foreign.Key}, "load the node certificate"},
		{"an expired certificate", pki.PeerFiles{CA: good.CA, Cert: expired.Cert, Key: expired.Key}, "expired at"},
	} {
		_, err := pki.LoadPeer(tt.files, now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	if _, err := pki.LoadPeer(good, now.Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("the good certificate two hours later: %v, want expired", err)
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	_, pair := newCA(t, time.Now())
	dir := t.TempDir()
	if _, _, err := pair.Write(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pair.Write(dir, "ca"); err == nil {
		t.Fatal("a second CA overwrote the first")
	}
	if info, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v", info.Mode(), err)
	}
}

func TestIssueStopsAtTheCAsExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca, _, err := pki.NewCA("short CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("n1", nil, now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if leaf.NotAfter.After(ca.Cert.NotAfter) {
		t.Fatalf("the node certificate outlives its CA: %v > %v", leaf.NotAfter, ca.Cert.NotAfter)
	}
}
