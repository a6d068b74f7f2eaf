package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/engine/peer"
)

// failingLocal answers every call with err.
type failingLocal struct{ err error }

func (f failingLocal) Apply(context.Context, []peer.Object, bool, string) (bool, error) {
	return false, f.err
}

func (f failingLocal) ReadLocal(context.Context, string, []byte) (dvv.Object, error) {
	return dvv.Object{}, f.err
}

func (f failingLocal) Coordinate(context.Context, peer.CoordinateRequest) (dvv.Object, int, error) {
	return dvv.Object{}, 0, f.err
}

func (f failingLocal) Tree(context.Context, uint16) ([]uint64, error) { return nil, f.err }

func (f failingLocal) Segment(context.Context, uint16, []uint32) ([]peer.Object, error) {
	return nil, f.err
}

func (f failingLocal) Transfer(context.Context, peer.TransferRequest, func(peer.Object, uint64) error) error {
	return f.err
}

func (f failingLocal) Purge(context.Context, []peer.Object) (int, error) { return 0, f.err }

func (f failingLocal) FetchModule(context.Context, string) ([]byte, error) { return nil, f.err }

func (f failingLocal) NamespaceStats(context.Context, string) (nsstats.Stats, error) {
	return nsstats.Stats{}, f.err
}

// serve runs h on an in-memory HTTP server speaking HTTP/1.1 and h2c, as
// the peer listener does, and returns its host:port.
func serve(t testing.TB, h http.Handler) (addr string, closeServer func()) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), srv.Close
}

// servePeer serves local's peer handler and returns a client whose node
// "other" is that handler, calling it over Connect.
func servePeer(t *testing.T, local peer.Local) *peer.Client {
	return servePeerOver(t, local, "connect")
}

// servePeerOver is servePeer with the client's transport for the hot
// calls: "connect" or "stream" (see clientOver).
func servePeerOver(t *testing.T, local peer.Local, transport string) *peer.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(local, nil))
	addr, _ := serve(t, mux)
	return clientOver(t, addr, transport)
}

// clientTo returns a client whose node "other" is at addr, calling it over
// Connect only (stream_test.go has the tests of peer streams).
func clientTo(t *testing.T, addr string, wrap func(http.RoundTripper) http.RoundTripper) *peer.Client {
	t.Helper()
	hc := peer.NewPlaintextClient(wrap)
	t.Cleanup(hc.CloseIdleConnections)
	c := peer.NewClient("self", hc, func(id string) (string, bool) { return addr, id == "other" })
	c.DisableStreams()
	return c
}

func object(t *testing.T) dvv.Object {
	t.Helper()
	var o dvv.Object
	o = o.Update("node-a", dvv.Clock{}, dvv.Sibling{Value: []byte("one"), Timestamp: 1})
	o = o.Update("node-b", dvv.Clock{}, dvv.Sibling{Value: []byte("two"), Timestamp: 2})
	o = o.Update("node-a", dvv.Clock{}, dvv.Sibling{Tombstone: true, Value: []byte{}, Timestamp: 3})
	return o
}

// TestEngineErrorsCrossIntact sends every engine error through a real
// handler and client and checks that the caller gets the same error back:
// same type with every field, same text, same sentinel, and no Connect
// error.
func TestEngineErrorsCrossIntact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		// check compares what was sent with what came back, beyond the text.
		check func(t *testing.T, sent, got error)
	}{
		{"invalid", errs.Invalid("key", "key is empty; keys are 1 to %d bytes", 1024), sameFields[errs.InvalidError]},
		{"invalid wrapped", fmt.Errorf("node: put: %w", errs.Invalid("dw", "dw is 3; it must be at most w (2)")), sameFields[errs.InvalidError]},
		{"limit exhausted", &errs.LimitError{Limit: "max_siblings", Max: 3, Actual: 4, Exhausted: true, Hint: "merge and write back"}, sameFields[errs.LimitError]},
		{"limit of the request", &errs.LimitError{Limit: "max_value_bytes", Max: 1 << 20, Actual: 1<<20 + 1}, sameFields[errs.LimitError]},
		{"conflict", &errs.ConflictError{Current: object(t), Context: []byte{1, 2, 3, 4}}, sameConflict},
		{"conflict on an empty key", &errs.ConflictError{}, sameConflict},
		{"quorum", &errs.QuorumError{Op: "write", Need: 2, Got: 1}, sameFields[errs.QuorumError]},
		{"precondition", errs.Precondition("partitions of epoch %d still move", 7), sameFields[errs.PreconditionError]},
		{"namespace not found", fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, "carts"), is(errs.ErrNamespaceNotFound)},
		{"namespace exists", errs.ErrNamespaceExists, is(errs.ErrNamespaceExists)},
		{"already exists", errs.ErrAlreadyExists, is(errs.ErrAlreadyExists)},
		{"unavailable", fmt.Errorf("%w: put failed", errs.ErrUnavailable), is(errs.ErrUnavailable)},
		{"not coordinator", peer.ErrNotCoordinator, is(peer.ErrNotCoordinator)},
		{"canceled", context.Canceled, is(context.Canceled)},
		{"deadline", fmt.Errorf("coord: %w", context.DeadlineExceeded), is(context.DeadlineExceeded)},
	}
	for _, tc := range overTransports(tests) {
		tt := tc.v
		t.Run(tc.transport+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			c := servePeerOver(t, failingLocal{err: tt.err}, tc.transport)
			var got error
			if tc.transport == "stream" { // a call the stream carries
				_, got = c.Replicate(t.Context(), "other", []peer.Object{{Namespace: "default", Key: []byte("k")}}, false, "")
			} else {
				_, _, got = c.Coordinate(t.Context(), "other", peer.CoordinateRequest{Namespace: "default", Key: []byte("k")})
			}
			answered(t, got)
			if got.Error() != tt.err.Error() {
				t.Errorf("text: got %q, want %q", got.Error(), tt.err.Error())
			}
			tt.check(t, tt.err, got)
		})
	}
}

// sameFields checks that got holds an *S equal, field for field, to the
// one in sent.
func sameFields[S comparable, P interface {
	*S
	error
}](t *testing.T, sent, got error) {
	t.Helper()
	var want, have P
	if !errors.As(sent, &want) {
		t.Fatalf("the test sent %v, which is no %T", sent, want)
	}
	if !errors.As(got, &have) {
		t.Fatalf("got %v (%T), which is no %T", got, got, want)
	}
	if *have != *want {
		t.Errorf("fields changed crossing the wire:\n got %+v\nwant %+v", *have, *want)
	}
}

func sameConflict(t *testing.T, sent, got error) {
	t.Helper()
	var want, have *errs.ConflictError
	if !errors.As(sent, &want) || !errors.As(got, &have) {
		t.Fatalf("got %v (%T), want an *errs.ConflictError", got, got)
	}
	if !have.Current.Equal(want.Current) || !bytes.Equal(have.Context, want.Context) {
		t.Errorf("conflict changed crossing the wire:\n got %v %x\nwant %v %x",
			have.Current.Siblings(), have.Context, want.Current.Siblings(), want.Context)
	}
}

func is(target error) func(*testing.T, error, error) {
	return func(t *testing.T, _, got error) {
		t.Helper()
		if !errors.Is(got, target) {
			t.Fatalf("got %v (%T), which is not %v", got, got, target)
		}
	}
}

// answered checks that err is an answer of the other node, as node code
// must see it: an engine error, not "no answer", not a Connect error.
func answered(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; the handler answered an error")
	}
	if errors.Is(err, peer.ErrNoAnswer) {
		t.Fatalf("an answer is reported as no answer: %v", err)
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		t.Fatalf("a Connect error reached the caller: %v", ce)
	}
}

// TestInternalErrorsCrossWithoutText: an error that is no engine error (a
// storage failure) crosses as errs.ErrUnavailable, without its text, and is
// still an answer.
func TestInternalErrorsCrossWithoutText(t *testing.T) {
	t.Parallel()
	c := servePeer(t, failingLocal{err: errors.New("pebble: write /var/lib/concord/000123.log: no space left on device")})
	_, _, err := c.Coordinate(t.Context(), "other", peer.CoordinateRequest{})
	answered(t, err)
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("got %v, want errs.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "pebble") || strings.Contains(err.Error(), "space") {
		t.Errorf("internal text crossed the wire: %q", err)
	}
}

// TestEveryCallDecodesErrors: the client decodes the errors of every peer
// call, unary and streaming, not only Coordinate's.
func TestEveryCallDecodesErrors(t *testing.T) {
	t.Parallel()
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			everyCallDecodesErrors(t, transport)
		})
	}
}

func everyCallDecodesErrors(t *testing.T, transport string) {
	sent := &errs.QuorumError{Op: "read", Need: 3, Got: 2}
	c := servePeerOver(t, failingLocal{err: sent}, transport)
	ctx := t.Context()
	objs := []peer.Object{{Namespace: "default", Key: []byte("k"), Object: object(t)}}
	calls := map[string]func() error{
		"Replicate": func() error {
			_, err := c.Replicate(ctx, "other", objs, true, "")
			return err
		},
		"Read": func() error {
			_, err := c.Read(ctx, "other", "default", []byte("k"))
			return err
		},
		"Coordinate": func() error {
			_, _, err := c.Coordinate(ctx, "other", peer.CoordinateRequest{})
			return err
		},
		"Tree": func() error {
			_, err := c.Tree(ctx, "other", 0)
			return err
		},
		"Segment": func() error {
			_, err := c.Segment(ctx, "other", 0, []uint32{1})
			return err
		},
		"Purge": func() error {
			_, err := c.Purge(ctx, "other", []peer.Object{{Namespace: "default", Key: []byte("k"), Object: tombstone("a")}})
			return err
		},
		"FetchModule": func() error {
			_, err := c.FetchModule(ctx, "other", strings.Repeat("ab", 32))
			return err
		},
		"Transfer": func() error {
			tr := c.Transfer(ctx, "other", peer.TransferRequest{})
			defer tr.Close()
			for tr.Next() {
			}
			return tr.Err()
		},
	}
	for name, call := range calls {
		err := call()
		answered(t, err)
		sameFields[errs.QuorumError](t, sent, err)
		if t.Failed() {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestNoAnswer: a node that never answered — nothing listens, no address
// is known, the transport fails (a partition), something other than the
// peer service answers (a proxy), the connection is dropped before the
// answer — gives ErrNoAnswer, the one error after which a caller may ask
// another node.
func TestNoAnswer(t *testing.T) {
	t.Parallel()
	refused, closeServer := serve(t, http.NotFoundHandler())
	closeServer()
	proxy, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	dropped, _ := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // the server drops the connection (or stream) without an answer
	}))
	partitioned := func(http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("partitioned") })
	}
	tests := []struct {
		name string
		c    *peer.Client
		to   string
	}{
		{"connection refused", clientTo(t, refused, nil), "other"},
		{"no address known", clientTo(t, refused, nil), "nobody"},
		{"transport fails", clientTo(t, refused, partitioned), "other"},
		{"a proxy answers", clientTo(t, proxy, nil), "other"},
		{"connection dropped", clientTo(t, dropped, nil), "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := tt.c.Coordinate(t.Context(), tt.to, peer.CoordinateRequest{})
			if !errors.Is(err, peer.ErrNoAnswer) {
				t.Fatalf("got %v, want peer.ErrNoAnswer", err)
			}
			var ce *connect.Error
			if errors.As(err, &ce) {
				t.Errorf("a Connect error reached the caller: %v", ce)
			}
			if errs.IsClientError(err) {
				t.Errorf("no answer passes for a client error: %v", err)
			}
		})
	}
}

// TestCallerContextEndsTheCall: when the caller's own context ends, the
// call reports that, not "no answer": the node may still be working on it.
func TestCallerContextEndsTheCall(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow, _ := serve(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done(): // the caller hung up (its connection closed)
		}
	}))
	c := clientTo(t, slow, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Coordinate(ctx, "other", peer.CoordinateRequest{})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, peer.ErrNoAnswer) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
