package guesttest

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// FeaturesConfig is the resolver config CheckFeatures uploads.
const FeaturesConfig = "cfg"

// Panic is how a language's resolver reports a panic (Go: a recovered
// panic, returned as ERROR; Rust: a trap after logging; AssemblyScript: a
// trap through env.abort).
type Panic struct {
	Kind resolvers.ErrorKind
	// Text must appear in the error, the guest's stderr or the host log.
	Text string
}

// CheckFeatures checks a module built from a language's features resolver,
// which exercises its guest library. The key says what to do:
//
//	config  OK: the namespace's config (read with the library's config call)
//	input   OK: "<namespace>/<key>/<sibling count>" then, per sibling,
//	        "/<tombstone>:<timestamp>:<value>" (tombstone as true/false)
//	log     logs "hello 42" at warn level, then OK with an empty value
//	defer   DEFER
//	fail    the library's error result with the message "cannot merge"
//	panic   panics with the message "boom"
//	big     OK with a value of 2 MiB (over the 1 MiB output cap)
func CheckFeatures(t *testing.T, wasm []byte, panicked Panic) {
	t.Helper()
	var logs bytes.Buffer
	m := Compile(t, wasm, resolvers.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	p := NewPool(t, m, []byte(FeaturesConfig))
	call := func(key string, siblings ...abi.Sibling) (resolvers.Result, error) {
		return p.Resolve(t.Context(), abi.Input{Key: []byte(key), Siblings: siblings})
	}
	ok := func(key, want string, siblings ...abi.Sibling) {
		t.Helper()
		res, err := call(key, siblings...)
		if err != nil || res.Status != abi.StatusOK || string(res.Value) != want {
			t.Errorf("%s: %s %q, %v%s; want OK %q", key, res.Status, res.Value, err, stderrOf(err), want)
		}
	}
	failed := func(key string, kind resolvers.ErrorKind, text string) {
		t.Helper()
		_, err := call(key)
		var ce *resolvers.CallError
		if !errors.As(err, &ce) || ce.Kind != kind {
			t.Errorf("%s: %v, want a %s failure", key, err, kind)
			return
		}
		if all := err.Error() + ce.Stderr + logs.String(); !strings.Contains(all, text) {
			t.Errorf("%s: %q not in the error, stderr or log:\n%v\n%s\n%s", key, text, err, ce.Stderr, logs.String())
		}
	}

	Resolve(t, p, nil) // cold start: fail fast, and once
	ok("config", FeaturesConfig)
	ok("input", "sets/input/3/false:7:v/true:-1:/false:0:",
		abi.Sibling{Value: []byte("v"), Timestamp: 7}, abi.Sibling{Tombstone: true, Timestamp: -1}, abi.Sibling{})
	ok("input", "sets/input/0")
	ok("log", "")
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "hello 42") {
		t.Errorf("log: warn line \"hello 42\" not in the host log:\n%s", logs.String())
	}
	if res, err := call("defer"); err != nil || res.Status != abi.StatusDefer {
		t.Errorf("defer: %s, %v; want DEFER", res.Status, err)
	}
	failed("fail", resolvers.KindGuestError, "cannot merge")
	failed("panic", panicked.Kind, panicked.Text)
	failed("big", resolvers.KindBadOutput, "")
	ok("input", "sets/input/0") // a fresh instance after the failures
}
