package concord

import (
	"context"

	"connectrpc.com/connect"
)

// WithToken sends tok as the credential of every call ("Authorization:
// Bearer tok"): a namespace token (cct_...) or the admin credential. A
// server answers calls without a valid one with an Unauthenticated error,
// and calls about a namespace the token may not see as if it did not
// exist. Default: no credential. The CLI reads it from CONCORD_TOKEN; a
// program can do the same:
//
//	concord.New(endpoint, concord.WithToken(os.Getenv("CONCORD_TOKEN")))
func WithToken(tok string) Option {
	return func(o *options) { o.connect = append(o.connect, connect.WithInterceptors(Bearer(tok))) }
}

// Bearer is a Connect client interceptor that sends tok as the call's
// credential, for clients built from the generated code (the admin
// service) rather than [New].
func Bearer(tok string) connect.Interceptor { return bearer("Bearer " + tok) }

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			req.Header().Set("Authorization", string(b))
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", string(b))
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
