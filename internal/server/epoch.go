package server

import (
	"context"
	"strconv"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/node"
)

// RingEpochHeader is the response header of every KV answer that carries
// the answering node's ring epoch: a client that routes by partition
// (GetTopology) learns from any answer that its topology is older than
// the ring, and fetches it again at once rather than on its timer.
const RingEpochHeader = "Concord-Ring-Epoch"

// ringEpoch sets RingEpochHeader on the KV service's unary answers.
type ringEpoch struct{ node *node.Node }

func (e ringEpoch) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err == nil {
			if r, ok := e.node.Ring(); ok {
				res.Header().Set(RingEpochHeader, strconv.FormatUint(r.Epoch(), 10))
			}
		}
		return res, err
	}
}

func (ringEpoch) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (ringEpoch) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
