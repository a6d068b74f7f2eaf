package server_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/tlstest"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// The benchmarks measure one node end to end: a Connect client over an
// HTTP/1.1 loopback connection, the server, and Pebble with synced writes
// (the default namespace's durability), with 100-byte values.

const benchValueSize = 100

// benchKV starts a server and returns a Connect-protocol client of it.
func benchKV(b *testing.B) kvv1connect.KVServiceClient {
	b.Helper()
	return kvv1connect.NewKVServiceClient(newHTTPClient(b, false), startServer(b))
}

func benchKey(i int64) []byte { return fmt.Appendf(nil, "bench/%010d", i) }

// preload writes n keys for the Get benchmarks.
func preload(b *testing.B, kv kvv1connect.KVServiceClient, n int64) {
	b.Helper()
	value := make([]byte, benchValueSize)
	for i := range n {
		if _, err := kv.Put(b.Context(), &kvv1.PutRequest{Namespace: ns, Key: benchKey(i), Value: value}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut writes a new key per operation (blind writes to one key
// would run into max_siblings).
func BenchmarkPut(b *testing.B) {
	kv := benchKV(b)
	value := make([]byte, benchValueSize)
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		if _, err := kv.Put(b.Context(), &kvv1.PutRequest{Namespace: ns, Key: benchKey(i), Value: value}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutParallel(b *testing.B) {
	kv := benchKV(b)
	value := make([]byte, benchValueSize)
	var next atomic.Int64
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := kv.Put(b.Context(), &kvv1.PutRequest{Namespace: ns, Key: benchKey(next.Add(1)), Value: value}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutRefused measures a put refused by its namespace's
// writes_per_second (of 1: every put after the first is over it), end to
// end over h2c as the cluster benchmarks send them: what a tenant flooding
// past its quota costs the node it calls, and its own client, per request.
// Compare with BenchmarkTLS/Put/h2c, a put that is taken.
func BenchmarkPutRefused(b *testing.B) {
	url := startServer(b)
	hc := newHTTPClient(b, true)
	admin := adminv1connect.NewAdminServiceClient(hc, url)
	if _, err := admin.CreateNamespace(b.Context(), &adminv1.CreateNamespaceRequest{Name: "flooded", Settings: &adminv1.NamespaceSettings{
		Limits: &adminv1.Limits{WritesPerSecond: 1},
	}}); err != nil {
		b.Fatal(err)
	}
	kv := kvv1connect.NewKVServiceClient(hc, url)
	req := &kvv1.PutRequest{Namespace: "flooded", Key: []byte("k"), Value: make([]byte, benchValueSize)}
	for range 3 { // the connection, and the put(s) the quota takes
		_, _ = kv.Put(b.Context(), req)
	}
	b.ReportAllocs()
	for b.Loop() {
		// One put a second is taken.
		if _, err := kv.Put(b.Context(), req); err != nil && connect.CodeOf(err) != connect.CodeResourceExhausted {
			b.Fatalf("put over the quota: %v, want resource exhausted", err)
		}
	}
}

const benchKeys = 256

func BenchmarkGet(b *testing.B) {
	kv := benchKV(b)
	preload(b, kv, benchKeys)
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		res, err := kv.Get(b.Context(), &kvv1.GetRequest{Namespace: ns, Key: benchKey(i % benchKeys)})
		if err != nil || !res.GetFound() {
			b.Fatalf("Get: found=%v, %v", res.GetFound(), err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	kv := benchKV(b)
	preload(b, kv, benchKeys)
	var next atomic.Int64
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := kv.Get(b.Context(), &kvv1.GetRequest{Namespace: ns, Key: benchKey(next.Add(1) % benchKeys)})
			if err != nil || !res.GetFound() {
				b.Errorf("Get: found=%v, %v", res.GetFound(), err)
				return
			}
		}
	})
}

// BenchmarkTLS measures the cost of TLS on a put and a get: one node, the
// Connect protocol over HTTP/2, either in clear text (h2c) or over TLS
// (ALPN h2, TLS 1.3, a P-256 certificate), both with the admin credential
// (authentication cannot be turned off; BenchmarkAuth measures its
// check alone). The connection is set up before the timer starts, so
// the difference is the record layer's per-call cost, not handshakes.
func BenchmarkTLS(b *testing.B) {
	certs := tlstest.Valid(b)
	transports := []struct {
		name  string
		start func(b *testing.B) kvv1connect.KVServiceClient
	}{
		{"h2c", func(b *testing.B) kvv1connect.KVServiceClient {
			return kvv1connect.NewKVServiceClient(newHTTPClient(b, true), startServer(b))
		}},
		{"h2-tls", func(b *testing.B) kvv1connect.KVServiceClient {
			e := startNode(b, func(cfg *embed.Config) { cfg.TLSCertFile, cfg.TLSKeyFile = certs.Cert, certs.Key })
			var p http.Protocols
			p.SetHTTP2(true)
			tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}
			b.Cleanup(tr.CloseIdleConnections)
			return kvv1connect.NewKVServiceClient(testcred.Client(tr), e.APIURL())
		}},
	}
	for _, t := range transports {
		b.Run("Put/"+t.name, func(b *testing.B) {
			kv := t.start(b)
			preload(b, kv, 1) // the connection, before the timer
			value := make([]byte, benchValueSize)
			b.SetBytes(benchValueSize)
			b.ReportAllocs()
			for i := int64(1); b.Loop(); i++ {
				if _, err := kv.Put(b.Context(), &kvv1.PutRequest{Namespace: ns, Key: benchKey(i), Value: value}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Get/"+t.name, func(b *testing.B) {
			kv := t.start(b)
			preload(b, kv, benchKeys)
			b.SetBytes(benchValueSize)
			b.ReportAllocs()
			for i := int64(0); b.Loop(); i++ {
				res, err := kv.Get(b.Context(), &kvv1.GetRequest{Namespace: ns, Key: benchKey(i % benchKeys)})
				if err != nil || !res.GetFound() {
					b.Fatalf("Get: found=%v, %v", res.GetFound(), err)
				}
			}
		})
	}
}
