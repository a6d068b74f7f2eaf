package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// The suite file itself must load: a typo in it fails here, without a
// cluster.
func TestCasesFileIsValid(t *testing.T) {
	t.Parallel()
	s, err := loadSuite("../cases.json")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Cases); n < 30 || n > 60 {
		t.Fatalf("%d cases; the suite aims for 30 to 50", n)
	}
}

// fakeServer is a KV service that gives canned answers, to show the runner
// fails a case when an answer (through the real SDK) is wrong.
type fakeServer struct {
	kvv1connect.UnimplementedKVServiceHandler
	get  *kvv1.GetResponse
	put  error    // nil: success with a context
	keys [][]byte // listed after the request's prefix
	raw  [][]byte // listed as they are
}

func (f *fakeServer) Get(context.Context, *kvv1.GetRequest) (*kvv1.GetResponse, error) {
	return f.get, nil
}

func (f *fakeServer) Put(context.Context, *kvv1.PutRequest) (*kvv1.PutResponse, error) {
	if f.put != nil {
		return nil, f.put
	}
	return &kvv1.PutResponse{Context: []byte("ctx")}, nil
}

func (f *fakeServer) ListKeys(_ context.Context, req *kvv1.ListKeysRequest, stream *connect.ServerStream[kvv1.ListKeysResponse]) error {
	res := &kvv1.ListKeysResponse{Keys: f.raw}
	for _, k := range f.keys {
		res.Keys = append(res.Keys, append(bytes.Clone(req.GetPrefix()), k...))
	}
	return stream.Send(res)
}

func connectError(code connect.Code, details ...proto.Message) error {
	ce := connect.NewError(code, errors.New("canned"))
	for _, d := range details {
		det, err := connect.NewErrorDetail(d)
		if err != nil {
			panic(err)
		}
		ce.AddDetail(det)
	}
	return ce
}

func sibling(v string) *kvv1.Sibling { return &kvv1.Sibling{Value: []byte(v)} }

func TestRunnerFailsWrongAnswers(t *testing.T) {
	t.Parallel()
	conflict := &kvv1.ContextConflict{Siblings: []*kvv1.Sibling{sibling("first")}, Context: []byte("c")}
	for _, tt := range []struct {
		name  string
		step  string
		fake  fakeServer
		fails string // "" when the answer is right
	}{{
		name: "the right answer passes",
		step: `{"op": "get", "key": {"utf8": "k"}, "expect": {"found": true, "siblings": 2, "values": [{"utf8": "b"}, {"utf8": "a"}], "context": true}}`,
		fake: fakeServer{get: &kvv1.GetResponse{Found: true, Siblings: []*kvv1.Sibling{sibling("a"), sibling("b")}, Context: []byte("c")}},
	}, {
		name:  "found where the case expects not found",
		step:  `{"op": "get", "key": {"utf8": "k"}, "expect": {"found": false}}`,
		fake:  fakeServer{get: &kvv1.GetResponse{Found: true, Siblings: []*kvv1.Sibling{sibling("x")}}},
		fails: "found: want false, got true",
	}, {
		name:  "one sibling where the case expects two",
		step:  `{"op": "get", "key": {"utf8": "k"}, "expect": {"siblings": 2, "values": [{"utf8": "a"}, {"utf8": "b"}]}}`,
		fake:  fakeServer{get: &kvv1.GetResponse{Found: true, Siblings: []*kvv1.Sibling{sibling("a")}}},
		fails: "siblings: want 2, got 1",
	}, {
		name:  "a value of other bytes",
		step:  `{"op": "get", "key": {"utf8": "k"}, "expect": {"values": [{"hex": "00ff"}]}}`,
		fake:  fakeServer{get: &kvv1.GetResponse{Found: true, Siblings: []*kvv1.Sibling{sibling("\x00\xfe")}}},
		fails: "values: want [hex:00ff], got [hex:00fe]",
	}, {
		name:  "no context where one is expected",
		step:  `{"op": "get", "key": {"utf8": "k"}, "expect": {"context": true}}`,
		fake:  fakeServer{get: &kvv1.GetResponse{}},
		fails: "context: want non-empty true, got 0 bytes",
	}, {
		name:  "resolved by another resolver",
		step:  `{"op": "get", "key": {"utf8": "k"}, "expect": {"resolved_by": "set-union"}}`,
		fake:  fakeServer{get: &kvv1.GetResponse{Found: true, Siblings: []*kvv1.Sibling{sibling("a")}, ResolvedBy: "lww"}},
		fails: `resolved_by: want "set-union", got "lww"`,
	}, {
		name:  "success where an error is expected",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "if_absent": true, "error": {"code": "already_exists"}}`,
		fails: "want error already_exists, got success",
	}, {
		name:  "an error where success is expected",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "expect": {}}`,
		fake:  fakeServer{put: connectError(connect.CodeUnavailable)},
		fails: "want success, got unavailable",
	}, {
		name: "the right conflict passes",
		step: `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "if_absent": true, "save": "cur", "error": {"code": "already_exists", "kind": "already_exists", "has_current": true, "values": [{"utf8": "first"}]}}`,
		fake: fakeServer{put: connectError(connect.CodeAlreadyExists, conflict)},
	}, {
		name:  "another code",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "if_absent": true, "error": {"code": "already_exists", "kind": "already_exists"}}`,
		fake:  fakeServer{put: connectError(connect.CodeFailedPrecondition, conflict)},
		fails: "code: want already_exists, got failed_precondition; kind: want already_exists",
	}, {
		name:  "a conflict without the current object",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "if_absent": true, "error": {"code": "already_exists", "has_current": true}}`,
		fake:  fakeServer{put: connectError(connect.CodeAlreadyExists)},
		fails: "has_current: want true, got false",
	}, {
		name:  "a conflict carrying other values",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "if_context_current": true, "error": {"kind": "conflict", "values": [{"utf8": "second"}]}}`,
		fake:  fakeServer{put: connectError(connect.CodeFailedPrecondition, conflict)},
		fails: `current values: want ["second"], got ["first"]`,
	}, {
		name:  "a limit error naming another limit",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "error": {"code": "invalid_argument", "kind": "limit", "limit": "max_value_bytes"}}`,
		fake:  fakeServer{put: connectError(connect.CodeInvalidArgument, &kvv1.LimitExceeded{Limit: "max_key_bytes"})},
		fails: "limit: want max_value_bytes, got max_key_bytes",
	}, {
		name:  "an invalid argument without its LimitExceeded",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "error": {"code": "invalid_argument", "kind": "invalid", "limit": "max_value_bytes"}}`,
		fake:  fakeServer{put: connectError(connect.CodeInvalidArgument)},
		fails: "limit: want a LimitError naming max_value_bytes, got none",
	}, {
		name: "a limit of the request is invalid too",
		step: `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "error": {"code": "invalid_argument", "kind": "invalid", "limit": "max_key_bytes"}}`,
		fake: fakeServer{put: connectError(connect.CodeInvalidArgument, &kvv1.LimitExceeded{Limit: "max_key_bytes"})},
	}, {
		name: "unauthenticated passes",
		step: `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "token": "none", "error": {"code": "unauthenticated", "kind": "unauthenticated"}}`,
		fake: fakeServer{put: connectError(connect.CodeUnauthenticated)},
	}, {
		name: "permission denied passes",
		step: `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "token": "bad", "error": {"code": "permission_denied", "kind": "permission_denied"}}`,
		fake: fakeServer{put: connectError(connect.CodePermissionDenied)},
	}, {
		name:  "unauthenticated as another kind",
		step:  `{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "error": {"kind": "unauthenticated"}}`,
		fake:  fakeServer{put: connectError(connect.CodePermissionDenied)},
		fails: "kind: want unauthenticated",
	}, {
		name: "the right listing passes",
		step: `{"op": "list", "prefix": {"utf8": "p/"}, "expect": {"key_set": [{"utf8": "p/b"}, {"utf8": "p/a"}], "keys": [{"utf8": "p/a"}, {"utf8": "p/b"}], "key_count": 2}}`,
		fake: fakeServer{keys: [][]byte{[]byte("a"), []byte("b")}},
	}, {
		name:  "a listing missing a key",
		step:  `{"op": "list", "expect": {"key_set": [{"utf8": "a"}, {"utf8": "b"}]}}`,
		fake:  fakeServer{keys: [][]byte{[]byte("a")}},
		fails: `key_set: want ["a" "b"], got ["a"]`,
	}, {
		name:  "a listing with a key twice",
		step:  `{"op": "list", "expect": {"key_set": [{"utf8": "a"}, {"utf8": "b"}]}}`,
		fake:  fakeServer{keys: [][]byte{[]byte("a"), []byte("b"), []byte("a")}},
		fails: `key_set: want ["a" "b"], got ["a" "a" "b"]`,
	}, {
		name:  "a listing in another order",
		step:  `{"op": "list", "expect": {"keys": [{"utf8": "a"}, {"utf8": "b"}]}}`,
		fake:  fakeServer{keys: [][]byte{[]byte("b"), []byte("a")}},
		fails: `keys: want ["a" "b"], got ["b" "a"]`,
	}, {
		name:  "a listing past its limit",
		step:  `{"op": "list", "expect": {"key_count": 1}}`,
		fake:  fakeServer{keys: [][]byte{[]byte("a"), []byte("b")}},
		fails: "key_count: want 1, got 2",
	}, {
		name:  "a listed key outside the prefix",
		step:  `{"op": "list", "expect": {}}`,
		fake:  fakeServer{raw: [][]byte{[]byte("elsewhere")}},
		fails: `listed key "elsewhere" is outside the prefix`,
	}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.Handle(kvv1connect.NewKVServiceHandler(&tt.fake))
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			s := writeSuite(t, tt.step)
			r := &runner{endpoints: []string{srv.URL}, runID: "test", token: "tok", client: sdkClients(), timeout: 5 * time.Second}
			err := r.runCase(t.Context(), 0, &s.Cases[0])
			switch {
			case tt.fails == "" && err != nil:
				t.Fatalf("the right answer failed: %v", err)
			case tt.fails != "" && err == nil:
				t.Fatal("a wrong answer passed")
			case tt.fails != "" && !strings.Contains(err.Error(), tt.fails):
				t.Fatalf("failed with %q, want it to say %q", err, tt.fails)
			}
		})
	}
}

// writeSuite loads a one-case suite of one step.
func writeSuite(t *testing.T, step string) *suite {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cases.json")
	doc := `{"version": 1, "namespaces": [{"name": "ns", "settings": {}}],
		"cases": [{"name": "c", "namespace": "ns", "steps": [` + step + `]}]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := loadSuite(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadRefusesMistakes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, cases, says string }{
		{"an unknown field", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}, "expect": {"fond": true}}]}]`, "unknown field"},
		{"neither expect nor error", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}}]}]`, "exactly one of expect and error"},
		{"a context nobody saved", `[{"name": "c", "namespace": "ns", "steps": [{"op": "put", "key": {"utf8": "k"}, "value": {"utf8": "v"}, "context": "x", "expect": {}}]}]`, "no earlier step saved it"},
		{"a field of another op", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}, "force": true, "expect": {}}]}]`, "force is not a field of get"},
		{"bad hex", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"hex": "0g"}, "expect": {}}]}]`, "invalid byte"},
		{"two encodings", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"hex": "00", "utf8": "a"}, "expect": {}}]}]`, "exactly one of utf8, hex, fill"},
		{"an unknown code", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}, "error": {"code": "nope"}}]}]`, "error.code"},
		{"an undeclared namespace", `[{"name": "c", "namespace": "other", "steps": [{"op": "get", "key": {"utf8": "k"}, "expect": {}}]}]`, "not declared"},
		{"a repeated name", `[{"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}, "expect": {}}]}, {"name": "c", "namespace": "ns", "steps": [{"op": "get", "key": {"utf8": "k"}, "expect": {}}]}]`, "repeated name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cases.json")
			doc := `{"version": 1, "namespaces": [{"name": "ns"}], "cases": ` + tt.cases + `}`
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSuite(path)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("loadSuite: %v, want an error saying %q", err, tt.says)
			}
		})
	}
}

// The command fails without a cluster, and when its calls fail: it never
// passes by running nothing.
func TestCommandFails(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var out, errOut strings.Builder
	if code := run(t.Context(), nil, env(map[string]string{"CONCORD_CONFORMANCE": "../cases.json"}), &out, &errOut); code == 0 {
		t.Fatal("passed without CONCORD_ENDPOINTS")
	}
	if !strings.Contains(errOut.String(), "CONCORD_ENDPOINTS is not set") {
		t.Fatalf("stderr %q does not say what is missing", errOut.String())
	}

	// A node that is not there: every case fails.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	out.Reset()
	code := run(t.Context(), []string{"-run", "put then get"}, env(map[string]string{
		"CONCORD_ENDPOINTS": srv.URL, "CONCORD_CONFORMANCE": "../cases.json",
	}), &out, &errOut)
	if code == 0 || !strings.Contains(out.String(), "go: 0 passed, 1 failed") {
		t.Fatalf("against no server: exit %d, output %q", code, out.String())
	}

	// A filter that matches no case is a failure too.
	out.Reset()
	if code := run(t.Context(), []string{"-run", "no such case"}, env(map[string]string{
		"CONCORD_ENDPOINTS": srv.URL, "CONCORD_CONFORMANCE": "../cases.json",
	}), &out, &errOut); code == 0 {
		t.Fatalf("ran no case and passed: %q", out.String())
	}
}
