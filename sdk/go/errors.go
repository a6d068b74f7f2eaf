package concord

import (
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

var (
	// ErrNamespaceNotFound: the namespace does not exist (or the caller may
	// not see it).
	ErrNamespaceNotFound = errors.New("concord: namespace not found")
	// ErrAlreadyExists: a Put with IfAbsent met a live value.
	ErrAlreadyExists = errors.New("concord: key already has a value")
	// ErrInvalidArgument: the server refused a field of the request (an
	// empty key, r or w above the namespace's n, a delete without a
	// context or Force, a context of another key, a value or key over its
	// limit: a [*LimitError] then, which matches this too). Retrying does
	// not help.
	ErrInvalidArgument = errors.New("concord: invalid argument")
	// ErrUnauthenticated: the call had no credential, or one the cluster
	// does not know (unknown, revoked or malformed). See [WithToken].
	ErrUnauthenticated = errors.New("concord: unauthenticated")
	// ErrPermissionDenied: the credential's scopes do not allow the call.
	ErrPermissionDenied = errors.New("concord: permission denied")
)

// QuorumError: fewer replicas than required answered in time. A failed
// write may still be present on some replicas.
type QuorumError struct {
	Acks, Required int
	err            error
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("concord: %d of %d required replicas answered", e.Acks, e.Required)
}

func (e *QuorumError) Unwrap() error { return e.err }

// ConflictError: a Put with IfContextCurrent found the key changed, or
// (Exists) a Put with IfAbsent found it has a value; such a one also
// matches ErrAlreadyExists. It carries the current state, so the caller can
// merge and retry at once.
type ConflictError struct {
	Current *Object
	Exists  bool
	err     error
}

func (e *ConflictError) Error() string {
	if e.Exists {
		return ErrAlreadyExists.Error()
	}
	return "concord: the key changed since it was read"
}

func (e *ConflictError) Unwrap() error { return e.err }

// LimitError: the request passed a namespace limit (value or key size,
// siblings, or a request rate: reads_per_second, writes_per_second).
type LimitError struct {
	Limit       string
	Max, Actual uint64
	// RetryAfter is set for a request rate limit: how long to wait before
	// the node will take the request.
	RetryAfter time.Duration
	err        error
}

func (e *LimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("concord: %s is %d; retry after %v", e.Limit, e.Max, e.RetryAfter)
	}
	return fmt.Sprintf("concord: %s is %d, the request needs %d", e.Limit, e.Max, e.Actual)
}

func (e *LimitError) Unwrap() error { return e.err }

// wrap turns a Connect error into the SDK's typed errors; the Connect error
// stays reachable with errors.As.
func wrap(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	for _, d := range ce.Details() {
		m, derr := d.Value()
		if derr != nil {
			continue
		}
		switch v := m.(type) {
		case *kvv1.QuorumFailure:
			return &QuorumError{Acks: int(v.GetAcks()), Required: int(v.GetRequired()), err: err}
		case *kvv1.ContextConflict:
			cur := &Object{Context: v.GetContext(), Found: len(v.GetSiblings()) > 0}
			for _, s := range v.GetSiblings() {
				cur.Siblings = append(cur.Siblings, Sibling{Value: s.GetValue(), WrittenAt: s.GetWrittenAt().AsTime()})
			}
			if ce.Code() == connect.CodeAlreadyExists {
				return &ConflictError{Current: cur, Exists: true, err: fmt.Errorf("%w: %w", ErrAlreadyExists, err)}
			}
			return &ConflictError{Current: cur, err: err}
		case *kvv1.LimitExceeded:
			if ce.Code() == connect.CodeInvalidArgument {
				err = fmt.Errorf("%w: %w", ErrInvalidArgument, err)
			}
			return &LimitError{Limit: v.GetLimit(), Max: v.GetMax(), Actual: v.GetActual(),
				RetryAfter: time.Duration(v.GetRetryAfterMs()) * time.Millisecond, err: err}
		}
	}
	switch ce.Code() {
	case connect.CodeNotFound:
		return fmt.Errorf("%w: %w", ErrNamespaceNotFound, err)
	case connect.CodeAlreadyExists:
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	case connect.CodeInvalidArgument:
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	case connect.CodeUnauthenticated:
		return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	case connect.CodePermissionDenied:
		return fmt.Errorf("%w: %w", ErrPermissionDenied, err)
	}
	return err
}
