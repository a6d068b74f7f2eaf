// Package server puts a [node.Node] behind its listeners: the client API
// (the Connect services in Connect, gRPC and gRPC-Web; JSON and binary;
// HTTP/1.1 and h2c, or HTTP/2 and HTTP/1.1 over TLS; gRPC health, /livez
// and /readyz), the admin listener (Prometheus /metrics, gRPC reflection,
// /debug/pprof) and the peer service. Handlers translate between the API
// and the node's methods; what a call may do (namespace checks, the
// resolver law checks) the node decides.
//
// Every listener is bounded (see [Limits]): timeouts for unary calls,
// per-message deadlines for streams, an idle timeout, a cap on
// connections and on HTTP/2 streams; the client API also caps every
// request body before reading it (see [Server.Handler]). docs/security.md
// explains the choices.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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
	// Default 8 KiB: below that, gzip's per-message setup costs more CPU
	// than the bytes it saves are worth on a data-centre network
	// (docs/performance.md).
	CompressMinBytes int
	// Limits bound the client API's connections; zero fields take
	// [DefaultLimits].
	Limits Limits
	// TLSConfig, when set, makes the client API speak TLS only (HTTP/2 and
	// HTTP/1.1 by ALPN) with this configuration (for a certificate that
	// reloads, see [CertReloader.TLSConfig]). Default: plaintext HTTP/1.1
	// and h2c.
	TLSConfig *tls.Config
	// CORSOrigins are the web origins (scheme://host[:port], or "*") whose
	// pages may call the API from a browser; empty (the default): none, and
	// a browser's cross-origin preflight is refused.
	CORSOrigins []string
}

// Server serves one node's API. It is safe for concurrent use.
type Server struct {
	node    *node.Node
	log     *slog.Logger
	limits  Limits
	tls     *tls.Config
	handler http.Handler
	admin   http.Handler
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
		opts.CompressMinBytes = 8 << 10
	}
	s := &Server{node: n, log: opts.Logger, limits: opts.Limits.orDefaults(DefaultLimits()), tls: opts.TLSConfig}
	metrics.RegisterNode(opts.Registry, func() metrics.NodeStats {
		st := n.Stats()
		out := metrics.NodeStats{
			HintBacklog: st.HintBacklog, HintsDelivered: st.HintsDelivered, HintedWrites: st.HintedWrites,
			ReadRepairs: st.ReadRepairs, ReadHedges: st.ReadHedges, AAEExchanges: st.AAEExchanges, AAEKeysRepaired: st.AAEKeysRepaired,
			TombstonesPurged: st.TombstonesPurged, ForwardedWrites: st.ForwardedWrites, RemoteReads: st.RemoteReads,
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
	metrics.RegisterBackground(opts.Registry, n.Background)
	metrics.RegisterNamespaceUsage(opts.Registry, n.LocalUsage)
	metrics.RegisterNamespaces(opts.Registry, n.AllNamespaceStats)
	metrics.RegisterStorage(opts.Registry, n.StorageMetrics)
	rpc := metrics.NewRPC(opts.Registry)
	handlerOpts := []connect.HandlerOption{
		connect.WithInterceptors(rpc),
		connect.WithCompressMinBytes(opts.CompressMinBytes),
		// The most a message may be once decompressed; what may be read
		// off the wire is capped per request (bodyLimit).
		connect.WithReadMaxBytes(maxRequestBytes),
	}
	services := []string{kvv1connect.KVServiceName, adminv1connect.AdminServiceName}
	s.health = grpchealth.NewStaticChecker(services...)
	checker := nodeHealth{static: s.health, node: n}

	mux := http.NewServeMux()
	// The KV and admin handlers return engine errors; their innermost
	// interceptor turns them into Connect errors (errors.go), so the
	// metrics interceptor outside it counts the codes clients see.
	// Between the two, authorize checks every call's credential (authz.go).
	// Outside it, namespaceNumbers counts the KV calls in their
	// namespace's numbers (numbers.go).
	apiOpts := append(slices.Clip(handlerOpts), connect.WithInterceptors(namespaceNumbers{node: n}, authorize{node: n, log: s.log}, engineErrors{log: s.log}))
	mux.Handle(kvv1connect.NewKVServiceHandler(&kvService{node: n}, append(slices.Clip(apiOpts), connect.WithInterceptors(ringEpoch{node: n}))...))
	mux.Handle(adminv1connect.NewAdminServiceHandler(&adminService{node: n}, apiOpts...))
	mux.Handle(grpchealth.NewHandler(checker, handlerOpts...))
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
	gate := newRefusalGate(mux, n, s.log, rpc, handlerOpts...)
	s.handler = withCORS(limitBodies(streamDeadlines(gate, apiStreams, s.limits.StreamIdleTimeout), s.bodyLimit), opts.CORSOrigins)
	s.admin = adminHandler(opts.Registry, services...)
	s.ready.Store(true)
	return s
}

// apiStreams are the client API's streaming procedures.
var apiStreams = []string{kvv1connect.KVServiceListKeysProcedure, adminv1connect.AdminServiceWatchHandoffProcedure}

// Handler is the client API's HTTP handler (for tests and embedding), with
// its request body caps and stream deadlines; the connection limits are
// Serve's.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers client API requests on lis until ctx is done, then drains
// in-flight requests for up to 10 seconds. It speaks HTTP/1.1 and h2c, or
// with Options.TLSConfig HTTP/2 and HTTP/1.1 over TLS.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	return serveHTTP(ctx, lis, listenerConfig{
		name: "api", handler: s.handler, log: s.log, limits: s.limits, tls: s.tls, drain: 10 * time.Second,
		stopping: func() {
			s.ready.Store(false)
			for _, svc := range []string{"", kvv1connect.KVServiceName, adminv1connect.AdminServiceName} {
				s.health.SetStatus(svc, grpchealth.StatusNotServing)
			}
		},
	})
}

// listenerConfig is how serveHTTP serves one listener.
type listenerConfig struct {
	name     string // for logs: api, peer, admin
	handler  http.Handler
	log      *slog.Logger
	limits   Limits      // complete (defaults filled in)
	tls      *tls.Config // nil: plaintext HTTP/1.1 and h2c
	drain    time.Duration
	stopping func() // called when ctx ends, before draining; may be nil
	// hijacked, when set, drains the connections the handler took over
	// (peer streams), which http.Server.Shutdown does not track; it
	// returns once they are closed.
	hijacked func(ctx context.Context)
}

// serveHTTP serves c.handler on lis, at most c.limits.MaxConns
// connections at once, until ctx is done; then it calls c.stopping and
// drains for up to c.drain.
func serveHTTP(ctx context.Context, lis net.Listener, c listenerConfig) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if c.tls != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	l := c.limits
	hs := &http.Server{
		Handler:           c.handler,
		Protocols:         &protocols,
		TLSConfig:         c.tls,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: l.MaxConcurrentStreams,
			// Ping a connection that has been silent for the idle timeout;
			// one that does not answer within the header timeout is closed.
			SendPingTimeout: l.IdleTimeout,
			PingTimeout:     l.ReadHeaderTimeout,
		},
		ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	// http.Server.Shutdown waits for a connection that has sent no request
	// yet until it is 5 s old. An HTTP/1.1 client (peer calls) leaves such
	// connections behind when it dials for a call that another connection
	// then serves; fresh closes them at shutdown, so the drain waits for
	// requests, not for idle sockets.
	fresh := newFreshConns()
	hs.ConnState = fresh.track
	lis = newLimitListener(lis, c.name, l.MaxConns, c.log)
	done := make(chan error, 1)
	go func() {
		if c.tls != nil {
			done <- hs.ServeTLS(lis, "", "") // the certificate comes from c.tls
			return
		}
		done <- hs.Serve(lis)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if c.stopping != nil {
		c.stopping()
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.drain)
	defer cancel()
	hs.SetKeepAlivesEnabled(false)
	fresh.closeAll()
	hijacked := make(chan struct{})
	go func() {
		defer close(hijacked)
		if c.hijacked != nil {
			c.hijacked(shutdownCtx)
		}
	}()
	err := hs.Shutdown(shutdownCtx)
	if err != nil {
		// Connections still busy after the drain (streams) are cut.
		err = errors.Join(err, hs.Close())
	}
	<-hijacked
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

// freshConns tracks the connections that have not sent a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newFreshConns() *freshConns { return &freshConns{conns: map[net.Conn]bool{}} }

func (f *freshConns) track(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == http.StateNew {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

// closeAll closes every connection that has sent no request yet.
func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}
