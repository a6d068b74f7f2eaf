package concord_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"testing"

	concord "github.com/concord-kv/concord/sdk/go"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/tlstest"
)

func TestClientOverTLS(t *testing.T) {
	t.Parallel()
	certs := tlstest.Valid(t)
	cfg := embed.Config{Node: node.DefaultLocalConfig(), APIAddr: "127.0.0.1:0", TLSCertFile: certs.Cert, TLSKeyFile: certs.Key}
	cfg.Node.Logger = slog.New(slog.DiscardHandler)
	cfg.Node.AdminToken = testcred.AdminToken
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })

	for _, tt := range []struct {
		name string
		opts []concord.Option
	}{{"connect", nil}, {"grpc", []concord.Option{concord.WithGRPC()}}} {
		t.Run(tt.name, func(t *testing.T) {
			c := concord.New(e.APIURL(), append(tt.opts, concord.WithTLSConfig(certs.ClientConfig()), concord.WithToken(testcred.AdminToken))...)
			if _, err := c.Put(t.Context(), []byte("k-"+tt.name), []byte("v")); err != nil {
				t.Fatalf("Put over TLS: %v", err)
			}
			// Without the CA the server's certificate is refused (the
			// default trusts the system's roots only).
			_, err := concord.New(e.APIURL(), tt.opts...).Get(t.Context(), []byte("k"))
			var verify *tls.CertificateVerificationError
			if !errors.As(err, &verify) {
				t.Fatalf("without the CA: %v, want a certificate verification error", err)
			}
		})
	}
}
