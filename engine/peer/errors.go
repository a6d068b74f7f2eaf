package peer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/errs"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
)

// This file is the wire form of errors between nodes. The handler answers
// every error of its Local as a Connect error that carries a
// concord.peer.v1.EngineError detail; the client turns that detail back into
// the same engine error (package errs). A Connect error without the detail
// never came from a peer handler: the node did not answer, and the client
// reports [ErrNoAnswer].

var (
	// ErrNoAnswer: the called node did not answer. It could not be reached
	// (no address, dial failure, connection refused, a partition), or the
	// call failed before the node's handler answered (a reset connection, a
	// proxy's error page). A call it answered carries a peer error detail
	// and is never reported as ErrNoAnswer. A connection lost after the
	// handler started is indistinguishable from one lost before, so a call
	// with side effects may have taken effect even so.
	ErrNoAnswer = errors.New("peer: no answer")
	// ErrNotCoordinator: the called node does not coordinate writes of the
	// key (its ring differs from the caller's) and did nothing; the caller
	// may ask another replica.
	ErrNotCoordinator = errors.New("peer: the node does not coordinate writes of this key")
)

// engineErrorType is the detail type that marks an answer of a peer handler.
var engineErrorType = string(proto.MessageName(&peerv1.EngineError{}))

// sentinels are the errors without fields, with their wire kind and the
// Connect code they cross with (the code is for humans reading the wire;
// the receiver rebuilds the error from the kind).
var sentinels = []struct {
	err  error
	kind peerv1.EngineError_Sentinel
	code connect.Code
}{
	{errs.ErrNamespaceNotFound, peerv1.EngineError_SENTINEL_NAMESPACE_NOT_FOUND, connect.CodeNotFound},
	{errs.ErrNamespaceExists, peerv1.EngineError_SENTINEL_NAMESPACE_EXISTS, connect.CodeAlreadyExists},
	{errs.ErrAlreadyExists, peerv1.EngineError_SENTINEL_ALREADY_EXISTS, connect.CodeAlreadyExists},
	{errs.ErrUnavailable, peerv1.EngineError_SENTINEL_UNAVAILABLE, connect.CodeUnavailable},
	{ErrNotCoordinator, peerv1.EngineError_SENTINEL_NOT_COORDINATOR, connect.CodeFailedPrecondition},
	{context.Canceled, peerv1.EngineError_SENTINEL_CANCELED, connect.CodeCanceled},
	{context.DeadlineExceeded, peerv1.EngineError_SENTINEL_DEADLINE_EXCEEDED, connect.CodeDeadlineExceeded},
}

// encodeError turns an error of the Local into the Connect error the
// handler answers with. Errors that are not engine errors are internal
// failures: they cross as errs.ErrUnavailable without their text.
func encodeError(err error) *connect.Error {
	code, detail := toWire(err)
	msg := detail.GetMessage()
	if msg == "" {
		msg = errs.ErrUnavailable.Error()
	}
	ce := connect.NewError(code, errors.New(msg))
	if d, derr := connect.NewErrorDetail(detail); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}

func toWire(err error) (connect.Code, *peerv1.EngineError) {
	var (
		inv  *errs.InvalidError
		lim  *errs.LimitError
		conf *errs.ConflictError
		quo  *errs.QuorumError
		pre  *errs.PreconditionError
	)
	w := &peerv1.EngineError{Message: err.Error()}
	switch {
	case errors.As(err, &inv):
		w.Kind = &peerv1.EngineError_Invalid_{Invalid: &peerv1.EngineError_Invalid{Field: inv.Field, Reason: inv.Reason}}
		return connect.CodeInvalidArgument, w
	case errors.As(err, &lim):
		w.Kind = &peerv1.EngineError_Limit_{Limit: &peerv1.EngineError_Limit{
			Limit: lim.Limit, Max: lim.Max, Actual: lim.Actual, Exhausted: lim.Exhausted, Hint: lim.Hint,
		}}
		if lim.Exhausted {
			return connect.CodeResourceExhausted, w
		}
		return connect.CodeInvalidArgument, w
	case errors.As(err, &conf):
		w.Kind = &peerv1.EngineError_Conflict_{Conflict: &peerv1.EngineError_Conflict{
			Current: encodeObject(conf.Current), Context: conf.Context, Exists: conf.Exists,
		}}
		if conf.Exists {
			return connect.CodeAlreadyExists, w
		}
		return connect.CodeFailedPrecondition, w
	case errors.As(err, &quo):
		w.Kind = &peerv1.EngineError_Quorum_{Quorum: &peerv1.EngineError_Quorum{
			Op: quo.Op, Need: uint32(quo.Need), Got: uint32(quo.Got),
		}}
		return connect.CodeUnavailable, w
	case errors.As(err, &pre):
		w.Kind = &peerv1.EngineError_Precondition_{Precondition: &peerv1.EngineError_Precondition{Reason: pre.Reason}}
		return connect.CodeFailedPrecondition, w
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			w.Kind = &peerv1.EngineError_Sentinel_{Sentinel: s.kind}
			return s.code, w
		}
	}
	return connect.CodeUnavailable, &peerv1.EngineError{
		Kind: &peerv1.EngineError_Sentinel_{Sentinel: peerv1.EngineError_SENTINEL_UNAVAILABLE},
	}
}

// decodeError turns the error of a peer call into what the caller sees: the
// engine error the node answered with, a context error when the caller's
// own context ended first, or an error wrapping [ErrNoAnswer]. A call
// cancelled while ctx is still live was cut off by the connection (a reset
// stream, a refused handshake): no answer.
func decodeError(ctx context.Context, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}
	for _, d := range ce.Details() {
		if d.Type() != engineErrorType {
			continue
		}
		m, derr := d.Value()
		w, ok := m.(*peerv1.EngineError)
		if derr != nil || !ok {
			// The node answered, but with a detail we cannot read.
			return fmt.Errorf("%w: a peer's error did not decode", errs.ErrUnavailable)
		}
		return fromWire(w)
	}
	switch code := ce.Code(); {
	case code == connect.CodeCanceled && ctx.Err() != nil:
		return fmt.Errorf("peer: %w", context.Canceled)
	case code == connect.CodeDeadlineExceeded && ctx.Err() != nil:
		return fmt.Errorf("peer: %w", context.DeadlineExceeded)
	}
	return fmt.Errorf("%w: %v", ErrNoAnswer, ce)
}

func fromWire(w *peerv1.EngineError) error {
	var inner error = errs.ErrUnavailable // a kind this version does not know
	switch k := w.GetKind().(type) {
	case *peerv1.EngineError_Invalid_:
		inner = &errs.InvalidError{Field: k.Invalid.GetField(), Reason: k.Invalid.GetReason()}
	case *peerv1.EngineError_Limit_:
		l := k.Limit
		inner = &errs.LimitError{Limit: l.GetLimit(), Max: l.GetMax(), Actual: l.GetActual(), Exhausted: l.GetExhausted(), Hint: l.GetHint()}
	case *peerv1.EngineError_Conflict_:
		cur, err := decodeObject(k.Conflict.GetCurrent())
		if err != nil {
			return fmt.Errorf("%w: a peer's conflict carried a malformed object", errs.ErrUnavailable)
		}
		inner = &errs.ConflictError{Current: cur, Context: k.Conflict.GetContext(), Exists: k.Conflict.GetExists()}
	case *peerv1.EngineError_Quorum_:
		q := k.Quorum
		inner = &errs.QuorumError{Op: q.GetOp(), Need: int(q.GetNeed()), Got: int(q.GetGot())}
	case *peerv1.EngineError_Precondition_:
		inner = &errs.PreconditionError{Reason: k.Precondition.GetReason()}
	case *peerv1.EngineError_Sentinel_:
		for _, s := range sentinels {
			if s.kind == k.Sentinel {
				inner = s.err
			}
		}
	}
	if msg := w.GetMessage(); msg != "" && msg != inner.Error() {
		return &remoteError{msg: msg, err: inner}
	}
	return inner
}

// remoteError keeps the text an engine error had on the node that answered
// (with the context its wrapping added) around the rebuilt error.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// handlerErrors is the handler's interceptor: every error a call returns
// leaves as an encoded engine error.
type handlerErrors struct{}

func (handlerErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, encodeError(err)
		}
		return res, nil
	}
}

func (handlerErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (handlerErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return encodeError(err)
		}
		return nil
	}
}

// clientErrors is the client's interceptor: every error of a call comes
// back decoded (see decodeError).
type clientErrors struct{}

func (clientErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, decodeError(ctx, err)
		}
		return res, nil
	}
}

func (clientErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return decodingConn{next(ctx, spec), ctx}
	}
}

func (clientErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// decodingConn decodes the errors of a client stream; io.EOF, which ends
// a stream, passes unchanged.
type decodingConn struct {
	connect.StreamingClientConn
	ctx context.Context // the stream's, for decodeError
}

func (c decodingConn) Send(m any) error { return c.decode(c.StreamingClientConn.Send(m)) }
func (c decodingConn) Receive(m any) error {
	return c.decode(c.StreamingClientConn.Receive(m))
}

func (c decodingConn) decode(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return decodeError(c.ctx, err)
}
