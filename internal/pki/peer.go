package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// PeerFiles names the files of a node's peer mTLS: the cluster CA's
// certificate and the node's certificate and key.
type PeerFiles struct {
	CA, Cert, Key string
}

// Set reports whether any file is named; [LoadPeer] wants all three.
func (f PeerFiles) Set() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Peer is a node's loaded peer mTLS: whom it trusts and who it is. Its
// configurations are fresh on every call. It is safe for concurrent use.
type Peer struct {
	// Name is the node the certificate names (its common name): the node
	// ID this node must run as.
	Name string
	// NotAfter is when the node certificate expires.
	NotAfter time.Time

	pool *x509.CertPool
	cert tls.Certificate
}

// LoadPeer reads and checks the files of a node's peer mTLS at now: each
// must be readable, the certificate must match the key, be a node
// certificate signed by the CA and be valid at now. Its errors say which
// file is wrong and why.
func LoadPeer(f PeerFiles, now time.Time) (*Peer, error) {
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return nil, fmt.Errorf("pki: peer mTLS needs --peer-ca, --peer-cert and --peer-key together (got ca %q, cert %q, key %q)", f.CA, f.Cert, f.Key)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("pki: read the cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: the cluster CA %s: %w", f.CA, err)
		}
		if err := validAt(c, now, "the cluster CA "+f.CA); err != nil {
			return nil, err
		}
		pool.AddCert(c)
		cas = append(cas, c)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("pki: the cluster CA %s holds no PEM certificate", f.CA)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: load the node certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: the node certificate %s: %w", f.Cert, err)
	}
	if err := validAt(leaf, now, "the node certificate "+f.Cert); err != nil {
		return nil, err
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots: pool, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: the node certificate %s is not a node certificate of the cluster CA %s: %w", f.Cert, f.CA, err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, fmt.Errorf("pki: the node certificate %s names no node (empty common name)", f.Cert)
	}
	pair.Leaf = leaf
	return &Peer{Name: leaf.Subject.CommonName, NotAfter: leaf.NotAfter, pool: pool, cert: pair}, nil
}

func validAt(c *x509.Certificate, now time.Time, what string) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("pki: %s expired at %s", what, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("pki: %s is not valid before %s", what, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// ServerConfig is the TLS configuration of the peer listener: TLS 1.3,
// HTTP/1.1 (peer calls, see engine/peer) or HTTP/2, and a client
// certificate from the cluster CA required.
func (p *Peer) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.cert},
		ClientCAs:    p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		NextProtos:   []string{"http/1.1", "h2"},
	}
}

// ClientConfig is the TLS configuration of peer calls: this node's
// certificate, and the server verified against the cluster CA (and the
// host dialled).
func (p *Peer) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.cert},
		RootCAs:      p.pool,
		NextProtos:   []string{"http/1.1"},
	}
}

// ErrNotNode is the error of a peer whose certificate does not name the
// node it claims to be.
var ErrNotNode = errors.New("pki: the certificate does not name the node")

// Names reports whether a verified peer certificate names node id (its
// common name or one of its DNS names).
func Names(cert *x509.Certificate, id string) bool {
	if cert.Subject.CommonName == id {
		return true
	}
	for _, n := range cert.DNSNames {
		if n == id {
			return true
		}
	}
	return false
}
