// Package metrics holds concord's Prometheus instruments and the Connect
// interceptor that counts and times every RPC.
package metrics

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// RPC counts requests and observes their latency per procedure and code.
// It is a [connect.Interceptor]; register it once per registry.
type RPC struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewRPC creates the RPC instruments and registers them with reg.
func NewRPC(reg prometheus.Registerer) *RPC {
	m := &RPC{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "concord", Subsystem: "rpc", Name: "requests_total",
			Help: "RPCs handled, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "concord", Subsystem: "rpc", Name: "duration_seconds",
			Help:    "RPC handling latency, by procedure.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18), // 50µs .. ~6.5s
		}, []string{"procedure"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Observe counts a request of procedure that started at start and was
// answered with err, for a handler that answers outside Connect's
// interceptors.
func (m *RPC) Observe(procedure string, start time.Time, err error) {
	m.requests.WithLabelValues(procedure, Code(err)).Inc()
	m.latency.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
}

// Code is the name of the Connect code a handler's error answers with
// ("ok" for none), as metrics label it.
func Code(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled.String()
	}
	return connect.CodeOf(err).String()
}

// WrapUnary implements [connect.Interceptor].
func (m *RPC) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		start := time.Now()
		res, err := next(ctx, req)
		m.Observe(req.Spec().Procedure, start, err)
		return res, err
	}
}

// WrapStreamingClient implements [connect.Interceptor]; clients are not
// measured.
func (m *RPC) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements [connect.Interceptor].
func (m *RPC) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		m.Observe(conn.Spec().Procedure, start, err)
		return err
	}
}
