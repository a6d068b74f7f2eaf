// Package pki makes and loads the certificates of a cluster's peer port:
// a cluster CA ([NewCA]), node certificates it signs ([CA.Issue]), and the
// mutual-TLS configuration a node serves and dials its peers with
// ([LoadPeer]). Everything is ECDSA P-256 and the standard library's
// crypto/x509; `concord cert` writes the files, embed loads them.
//
// A node certificate names its node: the node ID is the certificate's
// common name and one of its DNS names, so a peer can tell which node it
// talks to (internal/embed checks a staged join with it). Its other names
// are the hosts or IPs other nodes dial its peer port at; the client
// verifies the server's certificate against that host as any TLS client
// does. Node certificates are valid for both server and client
// authentication.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names `concord cert` writes: the CA as ca.crt and ca.key, a node
// NAME as NAME.crt and NAME.key.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Default validities: ten years for the CA, one year for a node.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultNodeValidity = 365 * 24 * time.Hour
)

// CA is a cluster certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Pair is a certificate and its key, PEM-encoded.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a self-signed cluster CA named name, valid from now for
// validity.
func NewCA(name string, now time.Time, validity time.Duration) (CA, Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, Pair{}, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"concord"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, certPEM, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, Pair{}, err
	}
	keyPEM, err := encodeKey(key)
	return CA{Cert: cert, Key: key}, Pair{CertPEM: certPEM, KeyPEM: keyPEM}, err
}

// Issue makes the certificate of node name signed by the CA, valid from
// now for validity (never past the CA's own expiry), for the given hosts
// (DNS names or IP addresses) besides name itself.
func (ca CA) Issue(name string, hosts []string, now time.Time, validity time.Duration) (Pair, error) {
	if name == "" {
		return Pair{}, errors.New("pki: a node certificate needs a name (the node ID)")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"concord"}},
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{name},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != name {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	_, certPEM, err := sign(tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return Pair{}, err
	}
	keyPEM, err := encodeKey(key)
	return Pair{CertPEM: certPEM, KeyPEM: keyPEM}, err
}

// sign makes the certificate tmpl of key pub, signed by parent with
// signer, and returns it parsed and in PEM.
func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Write stores a pair as dir/name.crt (mode 0644) and dir/name.key (mode
// 0600), creating dir. It refuses to overwrite an existing file.
func (p Pair) Write(dir, name string) (certPath, keyPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{keyPath, p.KeyPEM, 0o600}, {certPath, p.CertPEM, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return "", "", fmt.Errorf("pki: %w (remove it first to make a new one)", err)
		}
		_, err = fh.Write(f.data)
		if err = errors.Join(err, fh.Close()); err != nil {
			return "", "", err
		}
	}
	return certPath, keyPath, nil
}

// LoadCA reads the CA `concord cert ca` wrote into dir.
func LoadCA(dir string) (CA, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return CA{}, fmt.Errorf("pki: load the CA from %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return CA{}, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return CA{}, fmt.Errorf("pki: %s does not hold an ECDSA CA", dir)
	}
	return CA{Cert: cert, Key: key}, nil
}
