package concord

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"math/rand/v2"
	"net/http"
	"slices"
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

// Client calls concord nodes: the endpoint given to [New] (and those of
// [WithEndpoints]), or, with [WithRouting], the nodes of each key's
// preference list. It is safe for concurrent use.
type Client struct {
	kv        kvv1connect.KVServiceClient // the first endpoint's
	endpoints []target                    // the configured endpoints, in order
	namespace string
	router    *router // nil without WithRouting
}

type options struct {
	http      connect.HTTPClient
	tls       *tls.Config
	namespace string
	grpc      bool
	connect   []connect.ClientOption
	endpoints []string
	routing   bool
	maxAge    time.Duration
}

// Option configures a [Client].
type Option func(*options)

// WithHTTPClient sets the HTTP client. Default: for an http:// endpoint,
// an HTTP/1.1 client that keeps up to [IdleConnsPerHost] connections to
// each node alive (with [WithGRPC], an HTTP/2 cleartext client); for an
// https:// one, http.DefaultClient (HTTP/2 by ALPN). It overrides
// [WithTLSConfig].
func WithHTTPClient(c connect.HTTPClient) Option { return func(o *options) { o.http = c } }

// IdleConnsPerHost is how many idle connections to each node the default
// HTTP/1.1 client of an http:// endpoint keeps: as many goroutines may
// call at once without opening a connection per call.
const IdleConnsPerHost = 64

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

// WithEndpoints adds endpoints of other nodes of the same cluster, tried in
// order after the one given to [New] when a call fails without an answer
// (see [WithRouting] for which failures are retried). With routing, they
// are also where the client asks for topologies. Default: none.
func WithEndpoints(endpoints ...string) Option {
	return func(o *options) { o.endpoints = append(o.endpoints, endpoints...) }
}

// WithRouting makes the client send each Get, Put and Delete straight to
// the first node of the key's preference list, the node that would
// coordinate it anyway, saving the hop through a node that holds no replica
// (the Dynamo paper's client-driven coordination). The client asks the
// configured endpoints for each namespace's topology (GetTopology) at its
// first call in it (calls made meanwhile wait for that first answer, so
// that no key gets two coordinators), and again when the topology is older than
// [WithTopologyMaxAge], when a node failed a call, or when a write was
// forwarded (the node was not in the key's list any more). It reaches each
// node at its advertised API address with the first endpoint's scheme, the
// same HTTP client, TLS configuration and credential.
//
// A call that finds a node unreachable goes to the next node of the list,
// then to the configured endpoints; the node goes last for a few seconds. A read goes on after any failure
// without an answer or an unavailable answer. A write goes on only when the
// failure proves nothing was applied: the connection could not be made, or
// the node answered unavailable without a quorum failure (a second
// coordinator would apply the write again). Application errors (invalid
// argument, already exists, a conflict) are never retried.
//
// For a few seconds after this client writes a key, a read of it goes
// first to the node that coordinated the write, when that was not the head
// of the list (after a failover), so the client reads its own write.
//
// Default: off; calls go to the endpoint given to [New], and the node that
// receives a call forwards it to one of the key's replicas.
func WithRouting() Option { return func(o *options) { o.routing = true } }

// WithTopologyMaxAge sets how old a cached topology may grow before the
// next call in its namespace asks for it again (with [WithRouting]).
// Default [DefaultTopologyMaxAge].
func WithTopologyMaxAge(d time.Duration) Option { return func(o *options) { o.maxAge = d } }

// New returns a client of the node at endpoint, e.g.
// "http://127.0.0.1:7700", or "https://concord.example:7700" for a node
// serving TLS.
func New(endpoint string, opts ...Option) *Client {
	o := options{namespace: "default", http: http.DefaultClient, maxAge: DefaultTopologyMaxAge}
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
		case !strings.HasPrefix(endpoint, "https://"):
			// The Connect protocol over HTTP/1.1: a connection per call in
			// flight. http.DefaultClient keeps two idle per host, so it
			// would close the others once idle and open them again at the
			// next burst of calls.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = IdleConnsPerHost
			o.http = &http.Client{Transport: tr}
		}
	}
	o.http = inMemoryBodies{o.http}
	c := &Client{namespace: o.namespace}
	if o.routing {
		c.router = &router{maxAge: o.maxAge, now: time.Now}
		o.connect = append(o.connect, connect.WithInterceptors(epochWatch{c.router}))
	}
	connectTo := func(url string) kvv1connect.KVServiceClient {
		return kvv1connect.NewKVServiceClient(o.http, url, o.connect...)
	}
	for _, e := range append([]string{endpoint}, o.endpoints...) {
		c.endpoints = append(c.endpoints, target{url: strings.TrimSuffix(e, "/"), kv: connectTo(e)})
	}
	c.kv = c.endpoints[0].kv
	if o.routing {
		scheme := "http://"
		if strings.HasPrefix(endpoint, "https://") {
			scheme = "https://"
		}
		c.router.scheme, c.router.connect = scheme, connectTo
		for _, e := range c.endpoints {
			c.router.clients.Store(e.url, e.kv)
		}
	}
	return c
}

// plan is the nodes a call for key goes to, in order: with routing, the
// key's (see router.route); then the configured endpoints; nodes that
// failed a call a moment ago last. t is the topology it routed by (nil
// without routing).
func (c *Client) plan(ctx context.Context, ns string, key []byte, o op) (t *topology, plan []target) {
	if c.router == nil {
		return nil, c.endpoints
	}
	plan = make([]target, 0, 4+len(c.endpoints))
	if t = c.router.topology(ctx, ns, c.endpoints); t != nil {
		plan = c.router.route(t, ns, key, o, plan)
	}
next:
	for _, e := range c.endpoints {
		for _, p := range plan {
			if p.url == e.url {
				continue next
			}
		}
		plan = append(plan, e)
	}
	now := c.router.now()
	var down []target
	up := plan[:0]
	for _, p := range plan {
		if c.router.isDown(p.url, now) {
			down = append(down, p)
		} else {
			up = append(up, p)
		}
	}
	return t, append(up, down...)
}

// send runs call against the nodes of the plan for key in order, until one
// answers or the failure may not be retried (retryable). It returns the
// node that answered (or failed last) and the raw error.
func (c *Client) send(ctx context.Context, ns string, key []byte, o op, call func(kvv1connect.KVServiceClient) error) (*topology, target, error) {
	t, plan := c.plan(ctx, ns, key, o)
	var err error
	for i, to := range plan {
		if err = call(to.kv); err == nil {
			return t, to, nil
		}
		if ctx.Err() != nil {
			return t, to, err
		}
		if c.router != nil && nodeFailed(err) {
			c.router.failed(ns, to)
		}
		if !retryable(err, o) || i == len(plan)-1 {
			return t, to, err
		}
	}
	return t, target{}, err
}

// wrote tells the router who coordinated a write.
func (c *Client) wrote(t *topology, ns string, key []byte, to target, coordinator string) {
	if c.router != nil {
		c.router.wrote(t, ns, key, to, coordinator)
	}
}

// call collects the per-call options.
type call struct {
	namespace        string
	r, w, dw         uint32 // 0: the namespace's
	context          Context
	ifAbsent         bool
	ifContextCurrent bool
	force            bool
	overwrite        bool
	pageSize, limit  uint32 // Keys: 0 = the server's default page, no limit
}

// CallOption adjusts one call.
type CallOption func(*call)

// PageSize sets how many keys each streamed message of Keys carries
// (default 1000, at most 10000).
func PageSize(n uint32) CallOption { return func(c *call) { c.pageSize = n } }

// Limit makes Keys stop after n keys.
func Limit(n uint32) CallOption { return func(c *call) { c.limit = n } }

// InNamespace runs the call in another namespace than the client's.
func InNamespace(ns string) CallOption { return func(c *call) { c.namespace = ns } }

// R sets the replies a read waits for (default: the namespace's r).
func R(n uint32) CallOption { return func(c *call) { c.r = n } }

// W sets the acknowledgements a write waits for (default: the namespace's w).
func W(n uint32) CallOption { return func(c *call) { c.w = n } }

// DW sets the acknowledgements of a Put that must come from replicas that
// wrote it to disk (at most W; only in a namespace with synced durability;
// default: the namespace's dw).
func DW(n uint32) CallOption { return func(c *call) { c.dw = n } }

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

// Overwrite makes a Put without a context replace every version the
// coordinating node holds, instead of adding a sibling: the last writer
// wins, without a read first. Versions written concurrently through other
// nodes that the coordinator has not seen yet stay as siblings. Not with
// After.
func Overwrite() CallOption { return func(c *call) { c.overwrite = true } }

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
	req := &kvv1.GetRequest{Namespace: o.namespace, Key: key, R: o.r}
	var res *kvv1.GetResponse
	_, _, err := c.send(ctx, o.namespace, key, opRead, func(kv kvv1connect.KVServiceClient) (err error) {
		res, err = kv.Get(ctx, req)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	obj := &Object{Found: res.GetFound(), Context: res.GetContext(), ResolvedBy: res.GetResolvedBy(), Replies: int(res.GetReplies())}
	for _, s := range res.GetSiblings() {
		obj.Siblings = append(obj.Siblings, Sibling{Value: s.GetValue(), WrittenAt: s.GetWrittenAt().AsTime()})
	}
	return obj, nil
}

// Put writes a value and returns the key's new context. Without After (or
// Overwrite), the value becomes a sibling of whatever the key holds.
func (c *Client) Put(ctx context.Context, key, value []byte, opts ...CallOption) (Context, error) {
	o := c.options(opts)
	req := &kvv1.PutRequest{
		Namespace: o.namespace, Key: key, Value: value, Context: o.context, W: o.w, Dw: o.dw,
		IfAbsent: o.ifAbsent, IfContextCurrent: o.ifContextCurrent, Overwrite: o.overwrite,
	}
	var res *kvv1.PutResponse
	t, to, err := c.send(ctx, o.namespace, key, opWrite, func(kv kvv1connect.KVServiceClient) (err error) {
		res, err = kv.Put(ctx, req)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	c.wrote(t, o.namespace, key, to, res.GetCoordinator())
	return res.GetContext(), nil
}

// Delete writes a tombstone replacing what the context (After) names; with
// Force and no context it removes what the coordinator holds.
func (c *Client) Delete(ctx context.Context, key []byte, opts ...CallOption) (Context, error) {
	o := c.options(opts)
	req := &kvv1.DeleteRequest{Namespace: o.namespace, Key: key, Context: o.context, W: o.w, Force: o.force}
	var res *kvv1.DeleteResponse
	t, to, err := c.send(ctx, o.namespace, key, opWrite, func(kv kvv1connect.KVServiceClient) (err error) {
		res, err = kv.Delete(ctx, req)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	c.wrote(t, o.namespace, key, to, res.GetCoordinator())
	return res.GetContext(), nil
}

// maxUpdateAttempts bounds the writes of one Update.
const maxUpdateAttempts = 32

// Update reads a key, calls merge with its sibling values (none for a
// missing key), and writes the result with the read's context and
// [IfContextCurrent], so that it replaces exactly what it merged. When
// another write got there first, the write fails with a *ConflictError
// carrying the key's current state: Update merges that and writes again at
// once. After a second conflict in a row it waits a random time (up to
// 1 ms, then 2, 4, … 64 ms) and reads the key again, so that writers racing
// for one key stop meeting in lockstep. It gives up after 32 writes,
// returning the last *ConflictError.
//
// merge must accept several siblings, and may be called several times. The
// coordinator checks the context under the key's lock, but writes that
// different nodes coordinate at once (clients of several nodes without
// routing, or during a failover) can still both succeed, as concurrent
// siblings the next merge sees. A merge that folds siblings
// deterministically (a set union, a per-writer maximum) stays right then; a
// plain counter does not.
func (c *Client) Update(ctx context.Context, key []byte, merge func(siblings [][]byte) ([]byte, error), opts ...CallOption) (Context, error) {
	obj, err := c.Get(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		value, err := merge(obj.Values())
		if err != nil {
			return nil, err
		}
		written, err := c.Put(ctx, key, value, append(slices.Clip(opts), After(obj.Context), IfContextCurrent())...)
		var conflict *ConflictError
		if err == nil || !errors.As(err, &conflict) || conflict.Exists || conflict.Current == nil || attempt == maxUpdateAttempts {
			return written, err
		}
		if attempt == 1 {
			obj = conflict.Current
			continue
		}
		// The state the conflict carried grows stale while we wait.
		if err := backOff(ctx, attempt); err != nil {
			return nil, err
		}
		if obj, err = c.Get(ctx, key, opts...); err != nil {
			return nil, err
		}
	}
}

// backOff waits a random time up to 1 ms after the second conflict of an
// Update, doubling with each further one up to 64 ms.
func backOff(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Millisecond << min(attempt-2, 6)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Keys lists the live keys of the namespace with the given prefix. Listing
// reads every key of the namespace: it is for tooling, not request paths.
func (c *Client) Keys(ctx context.Context, prefix []byte, opts ...CallOption) iter.Seq2[[]byte, error] {
	o := c.options(opts)
	return func(yield func([]byte, error) bool) {
		stream, err := c.kv.ListKeys(ctx, &kvv1.ListKeysRequest{Namespace: o.namespace, Prefix: prefix, PageSize: o.pageSize, Limit: o.limit})
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
