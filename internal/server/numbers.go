package server

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/internal/metrics"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// kvOperations are the KV procedures counted in their namespace's
// numbers, and the operation each is.
var kvOperations = map[string]nsstats.Op{
	kvv1connect.KVServiceGetProcedure:      nsstats.OpGet,
	kvv1connect.KVServicePutProcedure:      nsstats.OpPut,
	kvv1connect.KVServiceDeleteProcedure:   nsstats.OpDelete,
	kvv1connect.KVServiceListKeysProcedure: nsstats.OpList,
}

// namespaceNumbers is the outermost interceptor of the client API: it
// counts every get, put, delete and list in the numbers of the namespace
// it names (the node's [nsstats.Keeper], which ignores namespaces that do
// not exist): the request, its latency, the Connect code it was answered
// with, and a rejection by a rate limit or quota (a limit error marked
// Exhausted) under the limit's name. Other procedures pass through.
type namespaceNumbers struct{ node *node.Node }

func (c namespaceNumbers) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		op, ok := kvOperations[req.Spec().Procedure]
		if !ok {
			return next(ctx, req)
		}
		start := time.Now()
		res, err := next(ctx, req)
		c.count(namespaceOf(req.Any()), op, time.Since(start), err)
		return res, err
	}
}

func (namespaceNumbers) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (c namespaceNumbers) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		op, ok := kvOperations[conn.Spec().Procedure]
		if !ok {
			return next(ctx, conn)
		}
		start := time.Now()
		nc := &namingConn{StreamingHandlerConn: conn}
		err := next(ctx, nc)
		c.count(nc.namespace, op, time.Since(start), err)
		return err
	}
}

func (c namespaceNumbers) count(ns string, op nsstats.Op, d time.Duration, err error) {
	k := c.node.Numbers()
	k.Request(ns, op, metrics.Code(err), d)
	var lim *errs.LimitError
	if errors.As(err, &lim) && lim.Exhausted {
		k.Rejected(ns, lim.Limit)
	}
}

// namespaceOf is the namespace a request names ("" for none).
func namespaceOf(msg any) string {
	if m, ok := msg.(interface{ GetNamespace() string }); ok {
		return m.GetNamespace()
	}
	return ""
}

// namingConn notes the namespace a stream's request names.
type namingConn struct {
	connect.StreamingHandlerConn
	namespace string
}

func (c *namingConn) Receive(msg any) error {
	err := c.StreamingHandlerConn.Receive(msg)
	if err == nil && c.namespace == "" {
		c.namespace = namespaceOf(msg)
	}
	return err
}
