package server_test

// The tests of this package are the client contract of a single node: each
// one starts a real node (Pebble in a temp dir), serves it with
// internal/embed on a loopback socket and talks to it through the generated
// Connect clients, once per wire protocol. The helpers live in this file
// rather than in a servertest package because only this package uses them.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

const ns = "default" // the namespace every fresh store has

// protocol is one way a client talks to the server.
type protocol struct {
	name string
	opts []connect.ClientOption
	h2c  bool // gRPC needs HTTP/2; the Connect protocol also works over HTTP/1.1
}

// protocols are the wire protocols every behaviour is checked with.
var protocols = []protocol{
	{name: "connect"},
	{name: "connect_json", opts: []connect.ClientOption{connect.WithProtoJSON()}},
	{name: "grpc", opts: []connect.ClientOption{connect.WithGRPC()}, h2c: true},
}

// client is a set of clients of one server speaking one protocol.
type client struct {
	proto    protocol
	url      string
	adminURL string       // of the admin listener (/metrics, reflection)
	http     *http.Client // plain HTTP/1.1, or h2c for gRPC
	h2c      *http.Client // always HTTP/2 cleartext (bidi streams need it)
	kv       kvv1connect.KVServiceClient
	admin    adminv1connect.AdminServiceClient
}

// forEachProtocol runs test in a parallel subtest per protocol, each against
// a server of its own.
func forEachProtocol(t *testing.T, test func(t *testing.T, c *client)) {
	t.Helper()
	forProtocols(t, protocols, test)
}

// forProtocols runs test once per protocol of ps.
func forProtocols(t *testing.T, ps []protocol, test func(t *testing.T, c *client)) {
	t.Helper()
	for _, p := range ps {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := startNode(t, nil)
			c := dial(t, e.APIURL(), p)
			c.adminURL = "http://" + e.AdminAddr()
			test(t, c)
		})
	}
}

// startServer opens a node on a Pebble store in a temp dir and serves it on
// 127.0.0.1 (through internal/embed, as every node is run); it returns the
// base URL. Cleanup stops the server, then closes the node.
func startServer(tb testing.TB) string {
	tb.Helper()
	return startNode(tb, nil).APIURL()
}

// startNode is startServer with the admin listener on 127.0.0.1 too and
// the configuration changed by configure (if not nil) before the start.
func startNode(tb testing.TB, configure func(*embed.Config)) *embed.Embedded {
	tb.Helper()
	cfg := embed.Config{Node: node.DefaultLocalConfig(), APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}
	cfg.Node.DataDir = tb.TempDir()
	cfg.Node.Logger = slog.New(slog.DiscardHandler)
	cfg.Node.AdminToken = adminToken
	if configure != nil {
		configure(&cfg)
	}
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start node: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("stop node: %v", err)
		}
	})
	return e
}

// adminToken is the admin credential of every test node (testcred's):
// every test runs with authentication on, and its clients send this unless
// they set another Authorization header (auth_test.go).
const adminToken = testcred.AdminToken

// newHTTPClient returns an HTTP/1.1 client, or with h2c an HTTP/2 cleartext
// one, that sends the admin credential. Its idle connections close before
// the server stops.
func newHTTPClient(tb testing.TB, h2c bool) *http.Client {
	c := newAnonHTTPClient(tb, h2c)
	c.Transport = testcred.Transport{Next: c.Transport}
	return c
}

// newAnonHTTPClient is newHTTPClient without a credential.
func newAnonHTTPClient(tb testing.TB, h2c bool) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64} // enough for parallel benchmarks
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// credentialed is http.DefaultClient sending the admin credential.
var credentialed = testcred.HTTPClient

func dial(tb testing.TB, url string, p protocol) *client {
	c := &client{proto: p, url: url, http: newHTTPClient(tb, p.h2c), h2c: newHTTPClient(tb, true)}
	c.kv = kvv1connect.NewKVServiceClient(c.http, url, p.opts...)
	c.admin = adminv1connect.NewAdminServiceClient(c.http, url, p.opts...)
	return c
}

func (c *client) get(t *testing.T, namespace, key string) *kvv1.GetResponse {
	t.Helper()
	res, err := c.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: namespace, Key: []byte(key)})
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", namespace, key, err)
	}
	return res
}

func (c *client) put(t *testing.T, req *kvv1.PutRequest) *kvv1.PutResponse {
	t.Helper()
	res, err := c.kv.Put(t.Context(), req)
	if err != nil {
		t.Fatalf("Put(%s/%s): %v", req.GetNamespace(), req.GetKey(), err)
	}
	return res
}

// blindPut writes value to key in the default namespace without a context.
func (c *client) blindPut(t *testing.T, key, value string) *kvv1.PutResponse {
	t.Helper()
	return c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte(key), Value: []byte(value)})
}

func (c *client) createNamespace(t *testing.T, n *adminv1.Namespace) *adminv1.Namespace {
	t.Helper()
	res, err := c.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: n.GetName(), Settings: settingsOf(n)})
	if err != nil {
		t.Fatalf("CreateNamespace(%s): %v", n.GetName(), err)
	}
	return res.GetNamespace()
}

// values returns the sibling values, sorted: sibling order is not part of
// the contract.
func values(sibs []*kvv1.Sibling) []string {
	out := make([]string, 0, len(sibs))
	for _, s := range sibs {
		out = append(out, string(s.GetValue()))
	}
	slices.Sort(out)
	return out
}

func wantValues(t *testing.T, what string, sibs []*kvv1.Sibling, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := values(sibs); !slices.Equal(got, want) {
		t.Errorf("%s: sibling values %q, want %q", what, got, want)
	}
}

// wantError checks that err is a Connect error with code whose message
// names every one of words, and returns it.
func wantError(t *testing.T, err error, code connect.Code, words ...string) *connect.Error {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want a %v Connect error", err, code)
	}
	if ce.Code() != code {
		t.Errorf("code %v (%q), want %v", ce.Code(), ce.Message(), code)
	}
	for _, w := range words {
		if !strings.Contains(ce.Message(), w) {
			t.Errorf("message %q does not name %q", ce.Message(), w)
		}
	}
	return ce
}

// detail returns the error detail of type T that ce carries, failing the
// test if there is none.
func detail[T proto.Message](t *testing.T, ce *connect.Error) T {
	t.Helper()
	var zero T
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatalf("decode detail %s: %v", d.Type(), err)
		}
		if m, ok := v.(T); ok {
			return m
		}
	}
	t.Fatalf("error %q has no %T detail", ce.Message(), zero)
	return zero
}

func wantProtoEqual(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, prototext.Format(got), prototext.Format(want))
	}
}
