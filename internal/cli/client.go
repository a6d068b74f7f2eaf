package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// newHTTPClient is the client of --endpoint: it sends token (when not
// empty) as every request's credential. An https:// endpoint's
// certificate is checked against the system's roots, or with caFile
// against the CAs in that PEM file only. It speaks HTTP/2 over TLS (ALPN)
// and HTTP/1.1.
func newHTTPClient(caFile, token string) (*http.Client, error) {
	c, err := newTransportClient(caFile)
	if err != nil || token == "" {
		return c, err
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &http.Client{Transport: bearerTransport{next: rt, header: "Bearer " + token}}, nil
}

// bearerTransport sets the Authorization header of every request.
type bearerTransport struct {
	next   http.RoundTripper
	header string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.header)
	return b.next.RoundTrip(r)
}

func newTransportClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return http.DefaultClient, nil
	}
	pool, err := loadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:       &p,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Proxy:           http.ProxyFromEnvironment,
	}}, nil
}

// loadCAPool reads the CA certificates of --ca-file.
func loadCAPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
	}
	return pool, nil
}

// tlsHint explains an error of an https:// endpoint whose certificate was
// refused, or returns nil.
func tlsHint(err error) error {
	var verify *tls.CertificateVerificationError
	if !errors.As(err, &verify) {
		return nil
	}
	return fmt.Errorf("the server's TLS certificate was refused: %w; give the CA that signed it with --ca-file (env CONCORD_CA_FILE), and use the host name the certificate names", verify.Err)
}
