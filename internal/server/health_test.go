package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/grpchealth"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
	"github.com/concord-kv/concord/engine/storage/storagetest"
	"github.com/concord-kv/concord/internal/server"
)

// TestHealthFailsWhenStorageFails: a node whose disk refused an fsync
// serves nothing more, so /readyz and the gRPC health check must say so
// (a load balancer then stops sending it traffic) until it is restarted.
func TestHealthFailsWhenStorageFails(t *testing.T) {
	t.Parallel()
	disk := pebbletest.NewDisk()
	cfg := node.DefaultLocalConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.DataDir, cfg.FS = pebbletest.Dir, disk.FS()
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	srv := httptest.NewServer(server.New(n, server.Options{Logger: cfg.Logger}).Handler())
	t.Cleanup(srv.Close)
	health := grpchealth.NewClient(srv.Client(), srv.URL)
	check := func(what string, wantReady int, wantHealth grpchealth.Status) {
		t.Helper()
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != wantReady {
			t.Errorf("%s: /readyz %d, want %d", what, res.StatusCode, wantReady)
		}
		got, err := health.Check(t.Context(), &grpchealth.CheckRequest{})
		if err != nil || got.Status != wantHealth {
			t.Errorf("%s: health %v, %v; want %v", what, got, err, wantHealth)
		}
	}
	check("before the fault", http.StatusOK, grpchealth.StatusServing)
	disk.Inject(storagetest.FailSync)
	if _, err := n.Put(t.Context(), node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v")}); err == nil {
		t.Fatal("a Put was acknowledged although its fsync failed")
	}
	check("after the fault", http.StatusServiceUnavailable, grpchealth.StatusNotServing)
}
