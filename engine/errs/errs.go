// Package errs holds the errors the engine reports to clients. Each has a
// fixed meaning that internal/server maps to exactly one Connect code; the
// message is written for the tenant and never carries internal detail.
package errs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
)

var (
	// ErrNamespaceNotFound: the namespace does not exist (or the caller may
	// not see it; the answer is the same).
	ErrNamespaceNotFound = errors.New("namespace not found")
	// ErrNamespaceExists: a namespace with that name exists already.
	ErrNamespaceExists = errors.New("namespace already exists")
	// ErrAlreadyExists: a Put with if_absent found a live value.
	ErrAlreadyExists = errors.New("key already has a live value (if_absent)")
	// ErrUnavailable: the node cannot serve right now (closing, storage failed).
	ErrUnavailable = errors.New("node unavailable")
)

// InvalidError is a request the caller must change before retrying.
type InvalidError struct {
	Field  string // the request field at fault, e.g. "key"
	Reason string // what is wrong, for a human
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Invalid returns an *InvalidError.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// LimitError is a request that would exceed a configured limit.
// Exhausted marks limits about the stored state (sibling count, quota) or
// the request rate, as opposed to the request's own size.
type LimitError struct {
	Limit     string // e.g. "max_value_bytes"
	Max       uint64
	Actual    uint64
	Exhausted bool
	Hint      string // what the caller can do about it
	// RetryAfter is set by a rate limit (reads_per_second,
	// writes_per_second): how long until the request would be taken.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	var msg string
	if e.RetryAfter > 0 {
		msg = fmt.Sprintf("too many requests: limit %s is %d; retry after %v", e.Limit, e.Max, e.RetryAfter)
	} else {
		msg = fmt.Sprintf("%s is %d, limit %s is %d", e.what(), e.Actual, e.Limit, e.Max)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *LimitError) what() string {
	switch e.Limit {
	case "max_value_bytes":
		return "value size"
	case "max_key_bytes":
		return "key size"
	case "max_siblings":
		return "sibling count"
	case "max_keys":
		return "stored keys"
	case "max_stored_bytes":
		return "stored bytes"
	case "max_namespaces":
		return "namespace count"
	case "max_resolver_memory_pages":
		return "memory_pages"
	case "max_resolver_deadline_ms":
		return "deadline in ms"
	case "max_namespace_ops_per_second":
		return "rate"
	}
	return "size"
}

// ConflictError answers a conditional Put whose condition failed: one with
// if_context_current whose context is no longer current, or (Exists) one
// with if_absent that met a live value. It carries the key's current state.
type ConflictError struct {
	Current dvv.Object
	// Context is the sealed context of Current, ready for the client to
	// pass back (contexts are sealed by the node; see engine/node).
	Context []byte
	// Exists: the Put had if_absent and the key has a live value.
	Exists bool
}

func (e *ConflictError) Error() string {
	if e.Exists {
		return ErrAlreadyExists.Error()
	}
	return "the key changed since the context was read (if_context_current); read it again and retry"
}

// Unwrap makes an if_absent conflict match ErrAlreadyExists.
func (e *ConflictError) Unwrap() error {
	if e.Exists {
		return ErrAlreadyExists
	}
	return nil
}

// QuorumError is a request that got fewer acknowledgements than required in
// time. For writes, the value may still be present on some replicas.
type QuorumError struct {
	Op   string // "write" or "read"
	Need int
	Got  int
}

func (e *QuorumError) Error() string {
	if e.Got >= e.Need { // enough acknowledgements, too few of them durable (dw)
		return fmt.Sprintf("%s quorum not reached: %d replicas answered (%d required), but too few of them wrote it to disk (dw)", e.Op, e.Got, e.Need)
	}
	return fmt.Sprintf("%s quorum not reached: %d of %d required replicas answered", e.Op, e.Got, e.Need)
}

// IsClientError reports whether err is one of this package's errors (or a
// context error), whose text may go to the client as is.
func IsClientError(err error) bool {
	var (
		inv  *InvalidError
		lim  *LimitError
		conf *ConflictError
		quo  *QuorumError
		pre  *PreconditionError
	)
	switch {
	case errors.As(err, &inv), errors.As(err, &lim), errors.As(err, &conf), errors.As(err, &quo), errors.As(err, &pre):
		return true
	case errors.Is(err, ErrNamespaceNotFound), errors.Is(err, ErrNamespaceExists),
		errors.Is(err, ErrAlreadyExists), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// PreconditionError is a request the cluster's current state does not allow
// (for example a ring commit while partitions are still moving).
type PreconditionError struct{ Reason string }

func (e *PreconditionError) Error() string { return e.Reason }

// Precondition returns a *PreconditionError.
func Precondition(format string, args ...any) error {
	return &PreconditionError{Reason: fmt.Sprintf(format, args...)}
}
