package server

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// engineErrors is the innermost interceptor of the KV and admin services:
// every error their handlers return, unary or streaming, leaves through
// toConnect. An error that already is a Connect error (an answer built
// with its own details, a stream whose client went away) passes unchanged.
type engineErrors struct{ log *slog.Logger }

func (e engineErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, e.toConnect(err)
		}
		return res, nil
	}
}

func (engineErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (e engineErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return e.toConnect(next(ctx, conn))
	}
}

func (e engineErrors) toConnect(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	return toConnect(e.log, err)
}

// toConnect maps an engine error to the Connect error a client sees. It is
// the one place that decides codes; anything it does not know is logged and
// answered as Internal without its text.
func toConnect(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var (
		inv  *errs.InvalidError
		lim  *errs.LimitError
		conf *errs.ConflictError
		quo  *errs.QuorumError
		pre  *errs.PreconditionError
		law  *node.ResolverRefusedError
	)
	switch {
	case errors.As(err, &law):
		return withDetail(connect.NewError(connect.CodeInvalidArgument, law), lawReportToProto(law.Report))
	case errors.As(err, &inv):
		return connect.NewError(connect.CodeInvalidArgument, inv)
	case errors.As(err, &lim):
		code := connect.CodeInvalidArgument
		if lim.Exhausted {
			code = connect.CodeResourceExhausted
		}
		return withDetail(connect.NewError(code, lim), &kvv1.LimitExceeded{
			Limit: lim.Limit, Max: lim.Max, Actual: lim.Actual, RetryAfterMs: uint64(lim.RetryAfter.Milliseconds()),
		})
	case errors.As(err, &conf):
		code := connect.CodeFailedPrecondition
		if conf.Exists {
			code = connect.CodeAlreadyExists
		}
		return withDetail(connect.NewError(code, conf), &kvv1.ContextConflict{
			Siblings: siblingsToProto(conf.Current),
			Context:  conf.Context,
		})
	case errors.As(err, &quo):
		return withDetail(connect.NewError(connect.CodeUnavailable, quo), &kvv1.QuorumFailure{Acks: uint32(quo.Got), Required: uint32(quo.Need)})
	case errors.As(err, &pre):
		return connect.NewError(connect.CodeFailedPrecondition, pre)
	case errors.Is(err, errs.ErrNamespaceNotFound), errors.Is(err, auth.ErrTokenNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, errs.ErrNamespaceExists), errors.Is(err, errs.ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, errs.ErrUnavailable):
		return connect.NewError(connect.CodeUnavailable, errors.New("the node cannot serve this request right now; retry, or use another node"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	}
	log.Error("internal error", "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

func withDetail(ce *connect.Error, m proto.Message) *connect.Error {
	if d, err := connect.NewErrorDetail(m); err == nil {
		ce.AddDetail(d)
	}
	return ce
}
