package server

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminHandler serves what operators' tools use and tenants must not
// reach: Prometheus /metrics (it names namespaces), gRPC reflection of
// services (it lists the admin API) and the Go profiler under
// /debug/pprof/. It is served on the admin listener only, never on the
// client API.
func adminHandler(reg *prometheus.Registry, services ...string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles under it
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// AdminHandler is the admin listener's HTTP handler: /metrics, gRPC
// reflection and /debug/pprof/.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// ServeAdmin serves the admin handler on lis (plaintext HTTP/1.1 and h2c)
// until ctx is done. It has no credential: listen on loopback or on a
// network only operators reach (see docs/security.md).
func (s *Server) ServeAdmin(ctx context.Context, lis net.Listener) error {
	return serveHTTP(ctx, lis, listenerConfig{
		name: "admin", handler: s.admin, log: s.log, limits: adminLimits(), drain: time.Second,
	})
}
