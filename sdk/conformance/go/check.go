package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	concord "github.com/concord-kv/concord/sdk/go"
)

// outcome is what one step's call returned.
type outcome struct {
	obj  *concord.Object // get
	ctx  concord.Context // put, delete
	keys [][]byte        // list, with the run prefix stripped
	err  error
}

// check compares what a step returned with what it expects; nil is a pass.
// It is the only place that judges, and it knows nothing of the network.
func check(st *step, out outcome) error {
	if st.Error != nil {
		return checkError(st.Error, out.err)
	}
	if out.err != nil {
		return fmt.Errorf("want success, got %s: %v", connect.CodeOf(out.err), out.err)
	}
	return checkExpect(st.Op, st.Expect, out)
}

func checkExpect(op string, e *expect, out outcome) error {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if op == "get" && out.obj == nil {
		return errors.New("get returned no object")
	}
	if e.Found != nil && out.obj.Found != *e.Found {
		fail("found: want %v, got %v", *e.Found, out.obj.Found)
	}
	if e.Values != nil {
		if err := sameMultiset("values", mustBytes(*e.Values), out.obj.Values()); err != nil {
			fail("%v", err)
		}
	}
	if e.Siblings != nil && len(out.obj.Siblings) != *e.Siblings {
		fail("siblings: want %d, got %d (%s)", *e.Siblings, len(out.obj.Siblings), showAll(out.obj.Values()))
	}
	if e.ResolvedBy != nil && out.obj.ResolvedBy != *e.ResolvedBy {
		fail("resolved_by: want %q, got %q", *e.ResolvedBy, out.obj.ResolvedBy)
	}
	if e.Context != nil {
		ctx := out.ctx
		if op == "get" {
			ctx = out.obj.Context
		}
		if (len(ctx) > 0) != *e.Context {
			fail("context: want non-empty %v, got %d bytes", *e.Context, len(ctx))
		}
	}
	if e.Keys != nil {
		if want := mustBytes(*e.Keys); !slices.EqualFunc(want, out.keys, bytes.Equal) {
			fail("keys: want %s, got %s", showAll(want), showAll(out.keys))
		}
	}
	if e.KeySet != nil {
		if err := sameMultiset("key_set", mustBytes(*e.KeySet), out.keys); err != nil {
			fail("%v", err)
		}
	}
	if e.KeyCount != nil && len(out.keys) != *e.KeyCount {
		fail("key_count: want %d, got %d", *e.KeyCount, len(out.keys))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func checkError(want *wantError, err error) error {
	if err == nil {
		return fmt.Errorf("want error %s, got success", describe(want))
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if got := connect.CodeOf(err).String(); want.Code != "" && got != want.Code {
		fail("code: want %s, got %s", want.Code, got)
	}
	if want.Kind != "" && !kindMatches(want.Kind, err) {
		fail("kind: want %s, the SDK returned %T", want.Kind, err)
	}
	if want.Limit != "" {
		var lim *concord.LimitError
		switch {
		case !errors.As(err, &lim):
			fail("limit: want a LimitError naming %s, got none", want.Limit)
		case lim.Limit != want.Limit:
			fail("limit: want %s, got %s", want.Limit, lim.Limit)
		}
	}
	cur := current(err)
	if want.HasCurrent != nil && (cur != nil) != *want.HasCurrent {
		fail("has_current: want %v, got %v", *want.HasCurrent, cur != nil)
	}
	if want.Values != nil {
		if cur == nil {
			fail("values: the error carries no current object")
		} else if verr := sameMultiset("current values", mustBytes(*want.Values), cur.Values()); verr != nil {
			fail("%v", verr)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s (the error: %v)", strings.Join(problems, "; "), err)
	}
	return nil
}

// kindMatches reports whether err is the Go SDK's spelling of kind.
func kindMatches(kind string, err error) bool {
	var (
		conflict *concord.ConflictError
		limit    *concord.LimitError
		quorum   *concord.QuorumError
	)
	switch kind {
	case "already_exists":
		return errors.Is(err, concord.ErrAlreadyExists)
	case "conflict":
		return errors.As(err, &conflict) && !conflict.Exists
	case "limit":
		return errors.As(err, &limit)
	case "quorum":
		return errors.As(err, &quorum)
	case "not_found":
		return errors.Is(err, concord.ErrNamespaceNotFound)
	case "unauthenticated":
		return errors.Is(err, concord.ErrUnauthenticated)
	case "permission_denied":
		return errors.Is(err, concord.ErrPermissionDenied)
	case "invalid":
		return errors.Is(err, concord.ErrInvalidArgument)
	}
	return false
}

// current is the key's current object a conflict error carries, or nil.
func current(err error) *concord.Object {
	var conflict *concord.ConflictError
	if errors.As(err, &conflict) {
		return conflict.Current
	}
	return nil
}

func describe(w *wantError) string {
	var parts []string
	for _, p := range []string{w.Code, w.Kind, w.Limit} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// sameMultiset compares byte strings ignoring order (a repeated one counts
// as often as it occurs).
func sameMultiset(what string, want, got [][]byte) error {
	w, g := slices.Clone(want), slices.Clone(got)
	slices.SortFunc(w, bytes.Compare)
	slices.SortFunc(g, bytes.Compare)
	if slices.EqualFunc(w, g, bytes.Equal) {
		return nil
	}
	return fmt.Errorf("%s: want %s, got %s", what, showAll(w), showAll(g))
}

// mustBytes decodes specs that loadSuite already checked.
func mustBytes(specs []byteSpec) [][]byte {
	out, err := specsBytes(specs)
	if err != nil {
		panic(err)
	}
	return out
}

// show prints a byte string short: as text when it is printable UTF-8, else
// as hex; long ones by length and first bytes.
func show(b []byte) string {
	const max = 48
	if len(b) > max {
		return fmt.Sprintf("<%d bytes: %s…>", len(b), show(b[:16]))
	}
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("hex:%x", b)
}

func showAll(bs [][]byte) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = show(b)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
