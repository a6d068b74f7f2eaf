package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloadInterval is how often, at most, a [CertReloader] looks at its
// files: on a TLS handshake, if this long has passed since it last did.
const CertReloadInterval = time.Second

// CertReloader serves a certificate and key from two PEM files and picks
// up new files without a restart: on a handshake, at most once every
// [CertReloadInterval], it stats both files and, if either changed (size,
// modification time, or a different file under the name, as after a
// rename or a Kubernetes secret update), loads them again. A pair that
// does not load (say the certificate was replaced but not yet the key),
// or that has expired, is logged and the previous certificate is kept
// until a good pair appears. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	stamps   [2]os.FileInfo // of certFile and keyFile when cert was loaded
	lastLook time.Time
}

// NewCertReloader loads the certificate and key. It fails, with the file
// names and the reason, if they cannot be read, do not parse, do not
// match, or the certificate is not valid now (expired, or not yet valid).
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("server: TLS needs both a certificate file and a key file")
	}
	if log == nil {
		log = slog.Default()
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	cert, stamps, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert, r.stamps, r.lastLook = cert, stamps, time.Now()
	return r, nil
}

// TLSConfig is a server configuration that serves the reloader's
// certificate over HTTP/2 and HTTP/1.1 (ALPN "h2", "http/1.1"), TLS 1.2 or
// later.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
		MinVersion:     tls.VersionTLS12,
	}
}

// GetCertificate is for [tls.Config.GetCertificate].
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastLook) >= CertReloadInterval {
		r.lastLook = now
		r.maybeReload()
	}
	return r.cert, nil
}

// maybeReload loads the files again if either changed. r.mu is held.
func (r *CertReloader) maybeReload() {
	changed := false
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			r.log.Warn("TLS certificate reload: cannot stat the file; serving the previous certificate", "file", name, "err", err)
			return
		}
		old := r.stamps[i]
		if !os.SameFile(old, fi) || !fi.ModTime().Equal(old.ModTime()) || fi.Size() != old.Size() {
			changed = true
		}
	}
	if !changed {
		return
	}
	cert, stamps, err := r.load()
	if err != nil {
		r.log.Warn("TLS certificate reload failed; serving the previous certificate", "err", err)
		return
	}
	r.cert, r.stamps = cert, stamps
	r.log.Info("TLS certificate reloaded", "cert", r.certFile, "not_after", cert.Leaf.NotAfter)
}

// load reads and checks the pair, and the files' stamps from before the
// read (so a change during it is seen next time).
func (r *CertReloader) load() (*tls.Certificate, [2]os.FileInfo, error) {
	var stamps [2]os.FileInfo
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, stamps, fmt.Errorf("server: TLS: %w", err)
		}
		stamps[i] = fi
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, stamps, fmt.Errorf("server: TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	now := time.Now()
	switch leaf := cert.Leaf; {
	case now.After(leaf.NotAfter):
		return nil, stamps, fmt.Errorf("server: TLS certificate %s expired at %s (now %s): renew it", r.certFile, leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, stamps, fmt.Errorf("server: TLS certificate %s is not valid before %s (now %s): check the clock or the certificate", r.certFile, leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return &cert, stamps, nil
}
