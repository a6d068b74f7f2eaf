package laws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// outcome is what one resolve call gave: a status (with the merged value for
// OK), or a failure other than a guest ERROR.
type outcome struct {
	status abi.Status
	value  []byte // non-nil for StatusOK
	fail   *resolvers.CallError
}

// resolve calls pool on sibs. A *CallError becomes an outcome (a guest ERROR
// a status like any other); the error is the caller's problem (a canceled
// context, a closed runtime).
func resolve(ctx context.Context, pool *resolvers.Pool, sibs []abi.Sibling) (outcome, error) {
	res, err := pool.Resolve(ctx, abi.Input{Key: checkKey, Siblings: sibs})
	var ce *resolvers.CallError
	switch {
	case err == nil:
		if res.Status == abi.StatusOK && res.Value == nil {
			res.Value = []byte{}
		}
		return outcome{status: res.Status, value: res.Value}, nil
	case ctx.Err() != nil:
		return outcome{}, ctx.Err()
	case errors.As(err, &ce) && ce.Kind == resolvers.KindGuestError:
		return outcome{status: abi.StatusError}, nil
	case errors.As(err, &ce) && ce.Kind != resolvers.KindCanceled:
		return outcome{fail: ce}, nil
	}
	return outcome{}, fmt.Errorf("laws: %w", err)
}

// warm starts an instance on pool if it has none idle: a failure to start
// is an outcome, like a failed call.
func warm(ctx context.Context, pool *resolvers.Pool) (outcome, error) {
	err := pool.Warm(ctx)
	var ce *resolvers.CallError
	switch {
	case err == nil:
		return outcome{}, nil
	case ctx.Err() != nil:
		return outcome{}, ctx.Err()
	case errors.As(err, &ce) && ce.Kind != resolvers.KindCanceled:
		return outcome{fail: ce}, nil
	}
	return outcome{}, fmt.Errorf("laws: %w", err)
}

// checkKey is the key of every input Check sends.
var checkKey = []byte("concord-laws-check")

// equal compares statuses and values; two failures are equal when they are
// of the same kind.
func (o outcome) equal(p outcome) bool {
	if o.fail != nil || p.fail != nil {
		return o.fail != nil && p.fail != nil && o.fail.Kind == p.fail.Kind
	}
	return o.status == p.status && bytes.Equal(o.value, p.value)
}

// decided reports whether the merge produced a version (OK or DELETE), which
// the laws on merged values need.
func (o outcome) decided() bool {
	return o.fail == nil && (o.status == abi.StatusOK || o.status == abi.StatusDelete)
}

// sibling is the merged version fed back as a sibling, with the timestamp
// the server gives it.
func (o outcome) sibling(timestamp int64) abi.Sibling {
	return abi.Sibling{Value: o.value, Tombstone: o.status == abi.StatusDelete, Timestamp: timestamp}
}

func (o outcome) String() string {
	switch {
	case o.fail != nil:
		return "a failure: " + describeFailure(o.fail, "")
	case o.status == abi.StatusOK:
		return "OK " + formatValue(o.value)
	}
	return o.status.String()
}

// haltsCheck reports whether o is a failure after which trying more inputs
// is pointless or slow: a timeout (each costs a full deadline) or a failure
// to start an instance (which does not depend on the input).
func (o outcome) haltsCheck() bool {
	if o.fail == nil {
		return false
	}
	switch o.fail.Kind {
	case resolvers.KindTimeout, resolvers.KindInstantiate, resolvers.KindInit, resolvers.KindNotRun:
		return true
	}
	return false
}

// describeFailure says what went wrong in a failed call, for the uploader
// (who owns the module, so the guest's own text may be shown); where, if
// set, follows the verb ("trapped on this input").
func describeFailure(ce *resolvers.CallError, where string) string {
	var b strings.Builder
	switch ce.Kind {
	case resolvers.KindTrap:
		b.WriteString("trapped")
	case resolvers.KindTimeout:
		b.WriteString("timed out")
	case resolvers.KindExit:
		b.WriteString("called proc_exit")
	case resolvers.KindInstantiate:
		b.WriteString("could not be instantiated")
	case resolvers.KindInit:
		b.WriteString("failed to start (start function, _initialize or init)")
	case resolvers.KindNotRun:
		b.WriteString("could not run in time")
	case resolvers.KindBadStatus:
		fmt.Fprintf(&b, "returned status %d (not an ABI v1 status)", int32(ce.Status))
	case resolvers.KindBadOutput:
		b.WriteString("wrote too much output")
	default:
		b.WriteString(ce.Kind.String())
	}
	if where != "" {
		b.WriteString(" ")
		b.WriteString(where)
	}
	if ce.Err != nil {
		msg, _, _ := strings.Cut(ce.Err.Error(), "\n") // drop wasm stack traces
		b.WriteString(" (")
		b.WriteString(msg)
		b.WriteString(")")
	}
	if s := strings.TrimSpace(ce.Stderr); s != "" {
		b.WriteString("; stderr: ")
		b.WriteString(truncateText(s, maxShown))
	}
	return b.String()
}
