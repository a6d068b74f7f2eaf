// Package tlstest makes the certificates of TLS tests: a CA and a server
// certificate for localhost and 127.0.0.1, written as PEM files, using
// [pki].
package tlstest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/pki"
)

// Files are a CA and a server certificate it signed, on disk.
type Files struct {
	CA   string // PEM file of the CA certificate
	Cert string // PEM file of the server certificate
	Key  string // PEM file of its key
	// Pool holds the CA, for a client's RootCAs.
	Pool *x509.CertPool
}

// ClientConfig is a client TLS configuration that trusts only the CA.
func (f Files) ClientConfig() *tls.Config { return &tls.Config{RootCAs: f.Pool} }

// New writes, under a new temporary directory, a CA and a server
// certificate for localhost and 127.0.0.1 valid from notBefore for
// validity.
func New(tb testing.TB, notBefore time.Time, validity time.Duration) Files {
	tb.Helper()
	return Write(tb, tb.TempDir(), notBefore, validity)
}

// Valid is New for a certificate valid now, for a day.
func Valid(tb testing.TB) Files {
	tb.Helper()
	return New(tb, time.Now(), 24*time.Hour)
}

// Write is New into dir, replacing the files there (for reload tests).
func Write(tb testing.TB, dir string, notBefore time.Time, validity time.Duration) Files {
	tb.Helper()
	ca, caPair, err := pki.NewCA("test CA", notBefore, 10*validity)
	if err != nil {
		tb.Fatal(err)
	}
	pair, err := ca.Issue("localhost", []string{"127.0.0.1"}, notBefore, validity)
	if err != nil {
		tb.Fatal(err)
	}
	f := Files{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key"), Pool: x509.NewCertPool()}
	f.Pool.AddCert(ca.Cert)
	for name, data := range map[string][]byte{f.CA: caPair.CertPEM, f.Cert: pair.CertPEM, f.Key: pair.KeyPEM} {
		// Write then rename, as a secret update does: a reader never sees
		// half a file.
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}
