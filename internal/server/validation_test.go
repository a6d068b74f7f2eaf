package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

const (
	wideNS      = "wide"     // n=3, r=2, w=2 (concord serve's defaults) on this one-node ring
	bufferedNS  = "buffered" // durability buffered
	tightNS     = "tight"    // a namespace with max_siblings=3
	tightMax    = 3
	maxKeyBytes = 1024    // the default limit
	maxValBytes = 1 << 20 // the default limit
)

// TestBadInputIsRefusedAndLosesNothing sends requests the server must
// refuse and checks the code, that the message names the problem, the
// LimitExceeded detail where a limit is at fault, and that no stored key
// changed.
func TestBadInputIsRefusedAndLosesNothing(t *testing.T) {
	t.Parallel()
	key := []byte("k")

	tests := []struct {
		name  string
		call  func(ctx context.Context, c *client, s *state) error
		code  connect.Code
		words []string
		limit *kvv1.LimitExceeded // the LimitExceeded detail wanted, if any
	}{
		{
			name:  "EmptyKey",
			call:  put(&kvv1.PutRequest{Namespace: ns, Value: []byte("v")}),
			code:  connect.CodeInvalidArgument,
			words: []string{"key", "empty"},
		},
		{
			name:  "EmptyKeyOnGet",
			call:  get(&kvv1.GetRequest{Namespace: ns}),
			code:  connect.CodeInvalidArgument,
			words: []string{"key", "empty"},
		},
		{
			name:  "KeyOverOneKiB",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: []byte(strings.Repeat("k", maxKeyBytes+1)), Value: []byte("v")}),
			code:  connect.CodeInvalidArgument,
			words: []string{"max_key_bytes", "1024", "1025"},
			limit: &kvv1.LimitExceeded{Limit: "max_key_bytes", Max: maxKeyBytes, Actual: maxKeyBytes + 1},
		},
		{
			name:  "KeyOverOneKiBOnGet",
			call:  get(&kvv1.GetRequest{Namespace: ns, Key: []byte(strings.Repeat("k", maxKeyBytes+1))}),
			code:  connect.CodeInvalidArgument,
			words: []string{"max_key_bytes", "1024"},
			limit: &kvv1.LimitExceeded{Limit: "max_key_bytes", Max: maxKeyBytes, Actual: maxKeyBytes + 1},
		},
		{
			name:  "ValueOverTheLimit",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: key, Value: make([]byte, maxValBytes+1)}),
			code:  connect.CodeInvalidArgument,
			words: []string{"max_value_bytes", "1048576", "1048577"},
			limit: &kvv1.LimitExceeded{Limit: "max_value_bytes", Max: maxValBytes, Actual: maxValBytes + 1},
		},
		{
			name:  "MalformedContext",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), Context: []byte("not a context")}),
			code:  connect.CodeInvalidArgument,
			words: []string{"context"},
		},
		{
			name:  "MalformedContextOnDelete",
			call:  del(&kvv1.DeleteRequest{Namespace: ns, Key: key, Context: []byte{0x01, 0x05}}),
			code:  connect.CodeInvalidArgument,
			words: []string{"context"},
		},
		{
			name:  "UnknownNamespace",
			call:  put(&kvv1.PutRequest{Namespace: "nope", Key: key, Value: []byte("v")}),
			code:  connect.CodeNotFound,
			words: []string{"namespace", "nope"},
		},
		{
			name:  "UnknownNamespaceOnGet",
			call:  get(&kvv1.GetRequest{Namespace: "nope", Key: key}),
			code:  connect.CodeNotFound,
			words: []string{"namespace", "nope"},
		},
		{
			name:  "EmptyNamespace",
			call:  put(&kvv1.PutRequest{Key: key, Value: []byte("v")}),
			code:  connect.CodeInvalidArgument,
			words: []string{"namespace", "required"},
		},
		{
			name:  "ROverN",
			call:  get(&kvv1.GetRequest{Namespace: ns, Key: key, R: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"r is 2", "n=1"},
		},
		{
			name:  "WOverN",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), W: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"w is 2", "n=1"},
		},
		{
			name:  "WOverNOnDelete",
			call:  del(&kvv1.DeleteRequest{Namespace: ns, Key: key, Force: true, W: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"w is 2", "n=1"},
		},
		{
			name:  "DWOverW",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), Dw: 2}),
			code:  connect.CodeInvalidArgument,
			words: []string{"dw is 2"},
		},
		{
			name:  "DWOnABufferedNamespace",
			call:  put(&kvv1.PutRequest{Namespace: bufferedNS, Key: key, Value: []byte("v"), Dw: 1}),
			code:  connect.CodeInvalidArgument,
			words: []string{"dw", `"buffered" is buffered`, "--durability sync"},
		},
		{
			name:  "NAboveTheRing",
			call:  put(&kvv1.PutRequest{Namespace: wideNS, Key: key, Value: []byte("v")}),
			code:  connect.CodeFailedPrecondition,
			words: []string{"n=3", "ring has 1 node", "w=2", "concord cluster join", "concord namespace update wide --w 1"},
		},
		{
			name:  "NAboveTheRingOnDelete",
			call:  del(&kvv1.DeleteRequest{Namespace: wideNS, Key: key, Force: true}),
			code:  connect.CodeFailedPrecondition,
			words: []string{"n=3", "ring has 1 node", "w=2"},
		},
		{
			name:  "NAboveTheRingOnGet",
			call:  get(&kvv1.GetRequest{Namespace: wideNS, Key: key}),
			code:  connect.CodeFailedPrecondition,
			words: []string{"n=3", "ring has 1 node", "r=2", "concord namespace update wide --r 1"},
		},
		{
			name:  "DeleteWithoutContextOrForce",
			call:  del(&kvv1.DeleteRequest{Namespace: ns, Key: key}),
			code:  connect.CodeInvalidArgument,
			words: []string{"context", "force"},
		},
		{
			name: "OverwriteWithAContext",
			call: func(ctx context.Context, c *client, s *state) error {
				_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), Context: s.staleContext, Overwrite: true})
				return err
			},
			code:  connect.CodeInvalidArgument,
			words: []string{"overwrite", "context", "one or the other"},
		},
		{
			name:  "IfAbsentOnALiveKey",
			call:  put(&kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), IfAbsent: true}),
			code:  connect.CodeAlreadyExists,
			words: []string{"if_absent"},
		},
		{
			name: "IfContextCurrentWithAStaleContext",
			call: func(ctx context.Context, c *client, s *state) error {
				_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: key, Value: []byte("v"), Context: s.staleContext, IfContextCurrent: true})
				return err
			},
			code:  connect.CodeFailedPrecondition,
			words: []string{"if_context_current"},
		},
		{
			name:  "SiblingCountOverTheLimit",
			call:  put(&kvv1.PutRequest{Namespace: tightNS, Key: key, Value: []byte("4")}),
			code:  connect.CodeResourceExhausted,
			words: []string{"max_siblings", "3", "4"},
			limit: &kvv1.LimitExceeded{Limit: "max_siblings", Max: tightMax, Actual: tightMax + 1},
		},
		{
			name:  "PageSizeOver10000",
			call:  list(&kvv1.ListKeysRequest{Namespace: ns, PageSize: 10_001}),
			code:  connect.CodeInvalidArgument,
			words: []string{"page_size", "10001", "10000"},
		},
		{
			name:  "MalformedPageToken",
			call:  list(&kvv1.ListKeysRequest{Namespace: ns, PageToken: []byte("junk")}),
			code:  connect.CodeInvalidArgument,
			words: []string{"page_token"},
		},
		{
			name:  "ListKeysOfAnUnknownNamespace",
			call:  list(&kvv1.ListKeysRequest{Namespace: "nope"}),
			code:  connect.CodeNotFound,
			words: []string{"namespace", "nope"},
		},
		{
			name:  "ListKeysWithoutNamespace",
			call:  list(&kvv1.ListKeysRequest{}),
			code:  connect.CodeInvalidArgument,
			words: []string{"namespace"},
		},
	}

	forEachProtocol(t, func(t *testing.T, c *client) {
		s := seed(t, c)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call(t.Context(), c, s)
				ce := wantError(t, err, tt.code, tt.words...)
				if tt.limit != nil {
					wantProtoEqual(t, "LimitExceeded detail", detail[*kvv1.LimitExceeded](t, ce), tt.limit)
				}
				s.check(t, c)
			})
		}
	})
}

// state is what seed stored, to check that refused requests change nothing.
type state struct {
	staleContext []byte
	stored       map[string]*kvv1.GetResponse // by namespace, of key "k"
}

// seed stores two siblings under default/k and max_siblings under tight/k.
func seed(t *testing.T, c *client) *state {
	t.Helper()
	c.createNamespace(t, &adminv1.Namespace{Name: tightNS, Limits: &adminv1.Limits{MaxSiblings: tightMax}})
	c.createNamespace(t, &adminv1.Namespace{Name: wideNS, N: 3, R: 2, W: 2})
	c.createNamespace(t, &adminv1.Namespace{Name: bufferedNS, Durability: adminv1.Durability_DURABILITY_BUFFERED})
	s := &state{stored: map[string]*kvv1.GetResponse{}}
	s.staleContext = c.blindPut(t, "k", "a").GetContext()
	c.blindPut(t, "k", "b")
	for i := range tightMax {
		c.put(t, &kvv1.PutRequest{Namespace: tightNS, Key: []byte("k"), Value: []byte{'1' + byte(i)}})
	}
	for _, n := range []string{ns, tightNS} {
		s.stored[n] = c.get(t, n, "k")
	}
	wantValues(t, "seeded default/k", s.stored[ns].GetSiblings(), "a", "b")
	wantValues(t, "seeded tight/k", s.stored[tightNS].GetSiblings(), "1", "2", "3")
	return s
}

// check fails the test if a stored key differs from what seed stored.
func (s *state) check(t *testing.T, c *client) {
	t.Helper()
	for n, want := range s.stored {
		wantProtoEqual(t, "Get "+n+"/k after a refused request", c.get(t, n, "k"), want)
	}
}

func put(req *kvv1.PutRequest) func(context.Context, *client, *state) error {
	return func(ctx context.Context, c *client, _ *state) error {
		_, err := c.kv.Put(ctx, req)
		return err
	}
}

func get(req *kvv1.GetRequest) func(context.Context, *client, *state) error {
	return func(ctx context.Context, c *client, _ *state) error {
		_, err := c.kv.Get(ctx, req)
		return err
	}
}

func del(req *kvv1.DeleteRequest) func(context.Context, *client, *state) error {
	return func(ctx context.Context, c *client, _ *state) error {
		_, err := c.kv.Delete(ctx, req)
		return err
	}
}

func list(req *kvv1.ListKeysRequest) func(context.Context, *client, *state) error {
	return func(ctx context.Context, c *client, _ *state) error {
		_, err := listPages(ctx, c, req)
		return err
	}
}
