package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/tlstest"
	"github.com/concord-kv/concord/internal/wait"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

func startTLS(t *testing.T, certs tlstest.Files) *embed.Embedded {
	t.Helper()
	return startNode(t, func(cfg *embed.Config) { cfg.TLSCertFile, cfg.TLSKeyFile = certs.Cert, certs.Key })
}

// tlsClient speaks HTTP/2 or HTTP/1.1 only, over TLS trusting roots.
func tlsClient(t *testing.T, roots *x509.CertPool, h2 bool) *http.Client {
	t.Helper()
	var p http.Protocols
	p.SetHTTP1(!h2)
	p.SetHTTP2(h2)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return testcred.Client(tr)
}

func TestTLSServesHTTP2AndHTTP1ToClientsOfItsCA(t *testing.T) {
	t.Parallel()
	certs := tlstest.Valid(t)
	e := startTLS(t, certs)
	if !strings.HasPrefix(e.APIURL(), "https://") {
		t.Fatalf("APIURL %s, want https://", e.APIURL())
	}
	for _, tt := range []struct {
		name      string
		h2        bool
		opts      []connect.ClientOption
		wantProto string
	}{
		{"h2 grpc", true, []connect.ClientOption{connect.WithGRPC()}, "HTTP/2.0"},
		{"h2 connect", true, nil, "HTTP/2.0"},
		{"http1 connect", false, nil, "HTTP/1.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hc := tlsClient(t, certs.Pool, tt.h2)
			kv := kvv1connect.NewKVServiceClient(hc, e.APIURL(), tt.opts...)
			if _, err := kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte(tt.name), Value: []byte("v")}); err != nil {
				t.Fatalf("Put over TLS: %v", err)
			}
			res, err := hc.Get(e.APIURL() + "/livez")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Proto != tt.wantProto || res.TLS == nil {
				t.Errorf("GET /livez: %s (TLS %v), want %s over TLS", res.Proto, res.TLS != nil, tt.wantProto)
			}
		})
	}
	t.Run("plaintext client", func(t *testing.T) {
		kv := kvv1connect.NewKVServiceClient(credentialed, "http://"+e.APIAddr())
		if _, err := kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")}); err == nil {
			t.Fatal("a plaintext call to a TLS listener succeeded")
		}
	})
}

func TestTLSRefusesAClientOfAnotherCA(t *testing.T) {
	t.Parallel()
	e := startTLS(t, tlstest.Valid(t))
	other := tlstest.Valid(t)
	kv := kvv1connect.NewKVServiceClient(tlsClient(t, other.Pool, true), e.APIURL())
	_, err := kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")})
	var verify *tls.CertificateVerificationError
	if !errors.As(err, &verify) {
		t.Fatalf("a client trusting another CA: %v, want a certificate verification error", err)
	}
	if !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("error %q does not say the authority is unknown", err)
	}
}

func TestTLSServesTheNewCertificateAfterTheFilesChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := tlstest.Write(t, dir, time.Now(), 24*time.Hour)
	e := startTLS(t, old)
	hc := tlsClient(t, old.Pool, true)
	if res, err := hc.Get(e.APIURL() + "/livez"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	// New files from another CA, under the same names.
	renewed := tlstest.Write(t, dir, time.Now(), 48*time.Hour)
	dial := func(roots *x509.CertPool) error {
		c, err := tls.Dial("tcp", e.APIAddr(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err == nil {
			c.Close()
		}
		return err
	}
	if wait.Within(t.Context(), 30*time.Second, func() bool { return dial(renewed.Pool) == nil }) != nil {
		t.Fatalf("the new certificate was not served 30s after the files changed: %v", dial(renewed.Pool))
	}
	if dial(old.Pool) == nil {
		t.Error("the old certificate is still served after the reload")
	}
}

func TestTLSStartUpFailsClearlyOnBadFiles(t *testing.T) {
	t.Parallel()
	good := tlstest.Valid(t)
	other := tlstest.Valid(t)
	expired := tlstest.New(t, time.Now().Add(-72*time.Hour), 24*time.Hour)
	notYet := tlstest.New(t, time.Now().Add(48*time.Hour), 24*time.Hour)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, cert, key string
		want            []string
	}{
		{"missing file", filepath.Join(t.TempDir(), "none.crt"), good.Key, []string{"none.crt", "no such file"}},
		{"not PEM", garbage, good.Key, []string{garbage, "PEM"}},
		{"key of another certificate", good.Cert, other.Key, []string{good.Cert, "does not match"}},
		{"expired", expired.Cert, expired.Key, []string{expired.Cert, "expired", "renew"}},
		{"not yet valid", notYet.Cert, notYet.Key, []string{notYet.Cert, "not valid before"}},
		{"key without certificate", "", good.Key, []string{"both"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := embed.Config{Node: node.DefaultLocalConfig(), APIAddr: "127.0.0.1:0", TLSCertFile: tt.cert, TLSKeyFile: tt.key}
			cfg.Node.DataDir = t.TempDir()
			cfg.Node.Logger = slog.New(slog.DiscardHandler)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				e, err := embed.Start(ctx, cfg)
				if err == nil {
					_ = e.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Start succeeded")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
			case <-ctx.Done():
				t.Fatal("Start hung on bad TLS files")
			}
		})
	}
}
