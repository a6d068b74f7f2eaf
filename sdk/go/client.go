package concord

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// Context is the opaque causal context of a key, as a read or write
// returned it. Never build or parse one.
type Context []byte

// Sibling is one concurrent version of a key.
type Sibling struct {
	Value     []byte
	WrittenAt time.Time
}

// Object is what a read returns.
type Object struct {
	// Found is false for a key never written or deleted.
	Found bool
	// Siblings are the live versions; more than one means concurrent writes
	// nobody merged yet.
	Siblings []Sibling
	// Context names exactly the versions this read saw.
	Context Context
	// ResolvedBy names the namespace resolver that merged the siblings on
	// the server, if one did.
	ResolvedBy string
	// Replies is the number of replicas that answered.
	Replies int
}

// Values returns the sibling values.
func (o *Object) Values() [][]byte {
	out := make([][]byte, len(o.Siblings))
	for i, s := range o.Siblings {
		out[i] = s.Value
	}
	return out
}

// Client calls one concord endpoint. It is safe for concurrent use.
type Client struct {
	kv        kvv1connect.KVServiceClient
	namespace string
}

type options struct {
	http      connect.HTTPClient
	tls       *tls.Config
	namespace string
	grpc      bool
	connect   []connect.ClientOption
}

// Option configures a [Client].
type Option func(*options)

// WithHTTPClient sets the HTTP client. Default: http.DefaultClient (or,
// with [WithGRPC] and an http:// endpoint, an HTTP/2 cleartext client).
// It overrides [WithTLSConfig].
func WithHTTPClient(c connect.HTTPClient) Option { return func(o *options) { o.http = c } }

// WithTLSConfig sets the TLS configuration of an https:// endpoint, e.g.
// RootCAs holding the CA that signed the server's certificate. The client
// speaks HTTP/2 (ALPN) or HTTP/1.1 over TLS. Default: none, so an
// https:// endpoint's certificate is checked against the system's root
// CAs (http.DefaultClient).
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithNamespace sets the namespace calls use unless they name another with
// [InNamespace]. Default "default".
func WithNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// WithGRPC speaks gRPC (over HTTP/2 cleartext unless WithHTTPClient gives
// another client) instead of the Connect protocol.
func WithGRPC() Option {
	return func(o *options) {
		o.grpc = true
		o.connect = append(o.connect, connect.WithGRPC())
	}
}

// WithJSON sends JSON instead of binary Protobuf (easier to read in logs).
func WithJSON() Option {
	return func(o *options) { o.connect = append(o.connect, connect.WithProtoJSON()) }
}

// New returns a client of the node at endpoint, e.g.
// "http://127.0.0.1:7700", or "https://concord.example:7700" for a node
// serving TLS.
func New(endpoint string, opts ...Option) *Client {
	o := options{namespace: "default", http: http.DefaultClient}
	for _, opt := range opts {
		opt(&o)
	}
	if o.http == http.DefaultClient {
		switch {
		case strings.HasPrefix(endpoint, "https://") && o.tls != nil:
			var p http.Protocols
			p.SetHTTP1(true)
			p.SetHTTP2(true)
			o.http = &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: o.tls, Proxy: http.ProxyFromEnvironment}}
		case o.grpc && !strings.HasPrefix(endpoint, "https://"):
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			o.http = &http.Client{Transport: &http.Transport{Protocols: &p}}
		}
	}
	return &Client{kv: kvv1connect.NewKVServiceClient(o.http, endpoint, o.connect...), namespace: o.namespace}
}

// call collects the per-call options.
type call struct {
	namespace        string
	r, w             uint32 // 0: the namespace's
	context          Context
	ifAbsent         bool
	ifContextCurrent bool
	force            bool
}

// CallOption adjusts one call.
type CallOption func(*call)

// InNamespace runs the call in another namespace than the client's.
func InNamespace(ns string) CallOption { return func(c *call) { c.namespace = ns } }

// R sets the replies a read waits for (default: the namespace's r).
func R(n uint32) CallOption { return func(c *call) { c.r = n } }

// W sets the acknowledgements a write waits for (default: the namespace's w).
func W(n uint32) CallOption { return func(c *call) { c.w = n } }

// After passes the context of an earlier read or write: the write replaces
// the versions that context names.
func After(ctx Context) CallOption { return func(c *call) { c.context = ctx } }

// IfAbsent makes a Put fail with ErrAlreadyExists when the key has a value.
func IfAbsent() CallOption { return func(c *call) { c.ifAbsent = true } }

// IfContextCurrent makes a Put fail with a *ConflictError when the key
// changed since the context given with After was read.
func IfContextCurrent() CallOption { return func(c *call) { c.ifContextCurrent = true } }

// Force lets a Delete run without a context: it removes every version the
// coordinating node holds.
func Force() CallOption { return func(c *call) { c.force = true } }

func (c *Client) options(opts []CallOption) call {
	o := call{namespace: c.namespace}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Get reads a key. A missing key is an Object with Found false, not an
// error.
func (c *Client) Get(ctx context.Context, key []byte, opts ...CallOption) (*Object, error) {
	o := c.options(opts)
	res, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: o.namespace, Key: key, R: o.r})
	if err != nil {
		return nil, wrap(err)
	}
	obj := &Object{Found: res.GetFound(), Context: res.GetContext(), ResolvedBy: res.GetResolvedBy(), Replies: int(res.GetReplies())}
	for _, s := range res.GetSiblings() {
		obj.Siblings = append(obj.Siblings, Sibling{Value: s.GetValue(), WrittenAt: s.GetWrittenAt().AsTime()})
	}
	return obj, nil
}

// Put writes a value and returns the key's new context. Without After, the
// value becomes a sibling of whatever the key holds.
func (c *Client) Put(ctx context.Context, key, value []byte, opts ...CallOption) (Context, error) {
	o := c.options(opts)
	res, err := c.kv.Put(ctx, &kvv1.PutRequest{
		Namespace: o.namespace, Key: key, Value: value, Context: o.context, W: o.w,
		IfAbsent: o.ifAbsent, IfContextCurrent: o.ifContextCurrent,
	})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetContext(), nil
}

// Delete writes a tombstone replacing what the context (After) names; with
// Force and no context it removes what the coordinator holds.
func (c *Client) Delete(ctx context.Context, key []byte, opts ...CallOption) (Context, error) {
	o := c.options(opts)
	res, err := c.kv.Delete(ctx, &kvv1.DeleteRequest{Namespace: o.namespace, Key: key, Context: o.context, W: o.w, Force: o.force})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetContext(), nil
}

// Update reads a key, calls merge with its sibling values (none for a
// missing key), and writes the result with the read's context, so that it
// replaces exactly what it merged. A write that raced it shows up as a
// sibling at the next read.
func (c *Client) Update(ctx context.Context, key []byte, merge func(siblings [][]byte) ([]byte, error), opts ...CallOption) (Context, error) {
	obj, err := c.Get(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	value, err := merge(obj.Values())
	if err != nil {
		return nil, err
	}
	return c.Put(ctx, key, value, append(opts, After(obj.Context))...)
}

// Keys lists the live keys of the namespace with the given prefix. Listing
// reads every key of the namespace: it is for tooling, not request paths.
func (c *Client) Keys(ctx context.Context, prefix []byte, opts ...CallOption) iter.Seq2[[]byte, error] {
	o := c.options(opts)
	return func(yield func([]byte, error) bool) {
		stream, err := c.kv.ListKeys(ctx, &kvv1.ListKeysRequest{Namespace: o.namespace, Prefix: prefix})
		if err != nil {
			yield(nil, wrap(err))
			return
		}
		defer stream.Close()
		for stream.Receive() {
			for _, k := range stream.Msg().GetKeys() {
				if !yield(k, nil) {
					return
				}
			}
		}
		if err := stream.Err(); err != nil && !errors.Is(err, context.Canceled) {
			yield(nil, wrap(err))
		}
	}
}
