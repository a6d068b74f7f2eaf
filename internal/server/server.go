// Package server puts a [node.Node] behind one HTTP listener: the Connect
// services (Connect, gRPC and gRPC-Web; JSON and binary; HTTP/1.1 and h2c),
// gRPC health and reflection, /livez, /readyz and Prometheus /metrics.
// Handlers translate between the API and the node's methods; what a call
// may do (namespace checks, the resolver law checks) the node decides.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/metrics"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// Options tune a Server. The zero value is usable.
type Options struct {
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
	// Registry is where metrics are registered and what /metrics serves.
	// Default: a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// CompressMinBytes: responses smaller than this are not compressed.
	// Default 1024.
	CompressMinBytes int
}

// Server serves one node's API. It is safe for concurrent use.
type Server struct {
	node    *node.Node
	log     *slog.Logger
	handler http.Handler
	health  *grpchealth.StaticChecker
	ready   atomic.Bool
}

// New builds the server of n.
func New(n *node.Node, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if opts.CompressMinBytes == 0 {
		opts.CompressMinBytes = 1024
	}
	s := &Server{node: n, log: opts.Logger}
	metrics.RegisterNode(opts.Registry, func() metrics.NodeStats {
		st := n.Stats()
		out := metrics.NodeStats{
			HintBacklog: st.HintBacklog, HintsDelivered: st.HintsDelivered, HintedWrites: st.HintedWrites,
			ReadRepairs: st.ReadRepairs, AAEExchanges: st.AAEExchanges, AAEKeysRepaired: st.AAEKeysRepaired,
			TombstonesPurged: st.TombstonesPurged,
		}
		for _, r := range n.ResolverStats() {
			failures := map[string]uint64{}
			for kind, c := range r.Stats.Failures {
				failures[kind.String()] = c
			}
			out.Resolvers = append(out.Resolvers, metrics.ResolverStats{
				Namespace: r.Namespace, Calls: r.Stats.Calls, Failures: failures,
				BreakerRejections: r.Stats.BreakerRejections, ColdStarts: r.Stats.ColdStarts,
			})
		}
		return out
	})
	handlerOpts := []connect.HandlerOption{
		connect.WithInterceptors(metrics.NewRPC(opts.Registry)),
		connect.WithCompressMinBytes(opts.CompressMinBytes),
		// JSON clients send bytes as base64 (4/3 larger): leave room for the
		// largest value a namespace may allow, so the limit check answers.
		connect.WithReadMaxBytes((meta.CeilingValueSize+meta.CeilingKeySize)*4/3 + 256<<10),
	}
	services := []string{kvv1connect.KVServiceName, adminv1connect.AdminServiceName}
	s.health = grpchealth.NewStaticChecker(services...)
	checker := nodeHealth{static: s.health, node: n}
	reflector := grpcreflect.NewStaticReflector(services...)

	mux := http.NewServeMux()
	// The KV and admin handlers return engine errors; their innermost
	// interceptor turns them into Connect errors (errors.go), so the
	// metrics interceptor outside it counts the codes clients see.
	apiOpts := append(slices.Clip(handlerOpts), connect.WithInterceptors(engineErrors{log: s.log}))
	mux.Handle(kvv1connect.NewKVServiceHandler(&kvService{node: n}, apiOpts...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&adminService{node: n}, apiOpts...))
	mux.Handle(grpchealth.NewHandler(checker, handlerOpts...))
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if err := n.Healthy(); err != nil {
			http.Error(w, "not ready: storage failed; restart the node", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	s.handler = mux
	s.ready.Store(true)
	return s
}

// Handler is the server's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on lis until ctx is done, then drains in-flight
// requests for up to 10 seconds. It speaks HTTP/1.1 and h2c.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	return serveHTTP(ctx, lis, s.handler, s.log, 10*time.Second, func() {
		s.ready.Store(false)
		for _, svc := range []string{"", kvv1connect.KVServiceName, adminv1connect.AdminServiceName} {
			s.health.SetStatus(svc, grpchealth.StatusNotServing)
		}
	})
}

// serveHTTP serves handler on lis (HTTP/1.1 and h2c) until ctx is done;
// then it calls stopping, and drains for up to drain.
func serveHTTP(ctx context.Context, lis net.Listener, handler http.Handler, log *slog.Logger, drain time.Duration, stopping func()) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(lis) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	stopping()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func timeFromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// nodeHealth answers gRPC health checks: NOT_SERVING once the node's
// storage has failed, the static status (SERVING until shutdown) otherwise.
type nodeHealth struct {
	static *grpchealth.StaticChecker
	node   *node.Node
}

func (h nodeHealth) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	res, err := h.static.Check(ctx, req)
	if err == nil && h.node.Healthy() != nil {
		res.Status = grpchealth.StatusNotServing
	}
	return res, err
}
