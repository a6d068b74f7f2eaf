package concord

import (
	"errors"
	"net"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// op says what a failed call may have done, which decides whether another
// node may be asked.
type op int

const (
	opRead  op = iota // no side effects: any node may be asked again
	opWrite           // may have been applied: ask again only on proof it was not
)

// retryable reports whether a call that failed with err (a raw Connect
// error) may go to the next node. A read may, whenever the node did not
// answer or answered unavailable. A write may only when the error proves
// the node applied nothing, since a second coordinator would apply the
// write again (a new sibling of the first): the connection was never made
// (a failed dial: the request did not leave), or the node answered
// unavailable without a QuorumFailure detail (it refused before
// coordinating; with the detail, it did coordinate and some replicas may
// hold the write). This is the client's half of the rule the server
// follows when it forwards a write (engine/node/front, forward).
func retryable(err error, o op) bool {
	var ce *connect.Error
	if errors.As(err, &ce) && connect.IsWireError(ce) {
		if ce.Code() != connect.CodeUnavailable {
			return false
		}
		return o == opRead || !hasQuorumFailure(ce)
	}
	if o == opRead {
		return ce == nil || (ce.Code() != connect.CodeCanceled && ce.Code() != connect.CodeDeadlineExceeded)
	}
	var dial *net.OpError
	return errors.As(err, &dial) && dial.Op == "dial"
}

// nodeFailed reports whether err shows the node itself failing (rather
// than answering): no answer, or an unavailable answer without a quorum
// failure. Such a node goes last for a while and the topology is fetched
// again, whether or not the call may go on.
func nodeFailed(err error) bool {
	var ce *connect.Error
	if !errors.As(err, &ce) || !connect.IsWireError(ce) {
		return true
	}
	return ce.Code() == connect.CodeUnavailable && !hasQuorumFailure(ce)
}

func hasQuorumFailure(ce *connect.Error) bool {
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if _, ok := m.(*kvv1.QuorumFailure); ok {
				return true
			}
		}
	}
	return false
}
