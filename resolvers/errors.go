package resolvers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/concord-kv/concord/resolvers/abi"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrInvalidModule is wrapped by every error [Runtime.Compile] returns for
	// a module the user must fix; the error is a [*ModuleError] listing the
	// problems.
	ErrInvalidModule = errors.New("resolvers: invalid module")
	// ErrBreakerOpen is returned by [Pool.Resolve] without calling the module
	// while the namespace's circuit breaker is open.
	ErrBreakerOpen = errors.New("resolvers: circuit breaker open")
	// ErrClosed is returned by calls on a closed [Runtime] or [Pool].
	ErrClosed = errors.New("resolvers: closed")
	// ErrNamespaceMismatch is returned by [Pool.Resolve] for an input whose
	// Namespace is set and differs from the pool's.
	ErrNamespaceMismatch = errors.New("resolvers: input namespace differs from the pool's")
)

// ModuleError reports why a module was refused. Each problem is a sentence
// fragment a resolver author can act on ("missing export \"resolve\"",
// "import env.fd_open not allowed ..."); the server returns them as
// InvalidArgument details. It unwraps to [ErrInvalidModule].
type ModuleError struct {
	Problems []string
}

func (e *ModuleError) Error() string {
	return ErrInvalidModule.Error() + ": " + strings.Join(e.Problems, "; ")
}

func (e *ModuleError) Unwrap() error { return ErrInvalidModule }

func invalidModule(format string, args ...any) error {
	return &ModuleError{Problems: []string{fmt.Sprintf(format, args...)}}
}

// ErrorKind classifies a failed resolver call.
type ErrorKind int

// Error kinds. All of them leave the siblings untouched; all but
// [KindCanceled], [KindNotRun] and [KindBudget] count as a failure for the
// circuit breaker.
const (
	// KindTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow or call stack budget exceeded, AssemblyScript abort, ...).
	KindTrap ErrorKind = iota + 1
	// KindTimeout: the call ran past its deadline (or the cold start past
	// Limits.InitDeadline) and was stopped.
	KindTimeout
	// KindCanceled: the caller's context was canceled (the client went
	// away) while the guest ran. Not the module's fault: not counted by the
	// breaker.
	KindCanceled
	// KindExit: the guest called WASI proc_exit.
	KindExit
	// KindInstantiate: the module could not be compiled for the pool's memory
	// limit or instantiated (for example its minimum memory exceeds
	// Limits.MemoryPages).
	KindInstantiate
	// KindInit: the guest's init (or _initialize) failed or returned non-zero.
	KindInit
	// KindBadStatus: resolve returned a value that is not an ABI v1 status.
	KindBadStatus
	// KindBadOutput: the guest wrote more than Limits.MaxOutputBytes.
	KindBadOutput
	// KindGuestError: resolve returned ERROR.
	KindGuestError
	// KindNotRun: the call's deadline passed before the guest could run:
	// every instance was busy, or a new one was still starting (the start
	// goes on, and its own outcome is counted). Not counted by the breaker.
	KindNotRun
	// KindBudget: the call was not made because its namespace was over
	// its resolver CPU time or concurrency on the node. A Pool never
	// returns it: the caller that skipped the call counts it
	// (engine/node/registry). Not counted by the breaker.
	KindBudget

	kindCount = iota + 1 // one past the last kind
)

// ErrorKinds lists every kind, in order, for exporters that want a stable
// set of label values.
func ErrorKinds() []ErrorKind {
	kinds := make([]ErrorKind, 0, kindCount-1)
	for k := KindTrap; k < kindCount; k++ {
		kinds = append(kinds, k)
	}
	return kinds
}

var kindNames = [kindCount]string{
	KindTrap:        "trap",
	KindTimeout:     "timeout",
	KindCanceled:    "canceled",
	KindExit:        "exit",
	KindInstantiate: "instantiate",
	KindInit:        "init",
	KindBadStatus:   "bad_status",
	KindBadOutput:   "bad_output",
	KindGuestError:  "guest_error",
	KindNotRun:      "not_run",
	KindBudget:      "budget",
}

// String returns a short snake_case name, suitable as a metric label.
func (k ErrorKind) String() string {
	if k > 0 && k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// CallError is the error of a failed resolver call. The instance that failed
// has been discarded; the siblings are to be kept as they are.
//
// Err and Stderr may contain guest-controlled text: log them, but never send
// them to a tenant other than the module's owner.
type CallError struct {
	Kind      ErrorKind
	Namespace string
	Module    Hash
	// Status is the status the guest returned, for KindBadStatus,
	// KindGuestError and a failing init.
	Status abi.Status
	// Err is the underlying error (wazero's trap error with a wasm stack
	// trace, a context error, ...), if any.
	Err error
	// Stderr is the tail of what the guest wrote to WASI stderr during the
	// call (a Go guest's panic message lands here).
	Stderr string
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resolvers: namespace %q module %s: %s", e.Namespace, e.Module.Short(), e.Kind)
	switch e.Kind {
	case KindBadStatus, KindGuestError, KindInit:
		if e.Err == nil {
			fmt.Fprintf(&b, " (status %s)", e.Status)
		}
	}
	if e.Err != nil {
		msg, _, _ := strings.Cut(e.Err.Error(), "\n") // drop wasm stack traces
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }
