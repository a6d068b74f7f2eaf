package server

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/node"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// BenchmarkAuth measures the authorisation check alone, as the interceptor
// makes it on every call: read the Authorization header, look the
// credential up (SHA-256 of the secret, compared with the stored hash) and
// decide from the procedure's rule and the request's namespace. Compare
// with BenchmarkTLS (a whole put or get) for auth's share of a call.
func BenchmarkAuth(b *testing.B) {
	const admin = "bench-admin-credential-0123456789"
	cfg := node.DefaultLocalConfig()
	cfg.DataDir, cfg.AdminToken, cfg.Logger = b.TempDir(), admin, slog.New(slog.DiscardHandler)
	n, err := node.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	_, token, err := n.CreateToken("default", auth.ScopeRead|auth.ScopeWrite, "bench")
	if err != nil {
		b.Fatal(err)
	}
	a := authorize{node: n, log: slog.New(slog.DiscardHandler)}
	put := &kvv1.PutRequest{Namespace: "default", Key: []byte("k"), Value: make([]byte, 100)}
	get := &kvv1.GetRequest{Namespace: "default", Key: []byte("k")}
	for _, c := range []struct {
		name, credential, procedure string
		req                         any
	}{
		{"Put/admin", admin, kvv1connect.KVServicePutProcedure, put},
		{"Get/admin", admin, kvv1connect.KVServiceGetProcedure, get},
		{"Put/token", token, kvv1connect.KVServicePutProcedure, put},
		{"Get/token", token, kvv1connect.KVServiceGetProcedure, get},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+c.credential)
			b.ReportAllocs()
			for b.Loop() {
				p, err := a.authenticate(h)
				if err != nil {
					b.Fatal(err)
				}
				if err := a.check(p, c.procedure, c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
