package concord_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"testing"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	concord "github.com/concord-kv/concord/sdk/go"
)

// Which failures send a call on to the next node: a read after any failure
// without an answer, a write only when it provably was not applied.
func TestRetryable(t *testing.T) {
	t.Parallel()
	withDetail := func(ce *connect.Error, m *kvv1.QuorumFailure) *connect.Error {
		d, err := connect.NewErrorDetail(m)
		if err != nil {
			t.Fatal(err)
		}
		ce.AddDetail(d)
		return ce
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tt := range []struct {
		name        string
		err         error
		read, write bool
	}{
		{"connection refused", connect.NewError(connect.CodeUnavailable, &url.Error{Op: "Post", URL: "http://x", Err: refused}), true, true},
		{"connection lost after sending", connect.NewError(connect.CodeUnavailable, &url.Error{Op: "Post", URL: "http://x", Err: io.ErrUnexpectedEOF}), true, false},
		{"node unavailable", connect.NewWireError(connect.CodeUnavailable, errors.New("the node cannot serve this request right now")), true, true},
		{"quorum failure", withDetail(connect.NewWireError(connect.CodeUnavailable, errors.New("1 of 2")), &kvv1.QuorumFailure{Acks: 1, Required: 2}), true, false},
		{"invalid argument", connect.NewWireError(connect.CodeInvalidArgument, errors.New("key is empty")), false, false},
		{"already exists", connect.NewWireError(connect.CodeAlreadyExists, errors.New("exists")), false, false},
		{"conflict", connect.NewWireError(connect.CodeFailedPrecondition, errors.New("changed")), false, false},
		{"deadline", connect.NewError(connect.CodeDeadlineExceeded, context.DeadlineExceeded), false, false},
	} {
		if got := concord.Retryable(tt.err, false); got != tt.read {
			t.Errorf("%s: a read retries: %v, want %v", tt.name, got, tt.read)
		}
		if got := concord.Retryable(tt.err, true); got != tt.write {
			t.Errorf("%s: a write retries: %v, want %v", tt.name, got, tt.write)
		}
	}
}
