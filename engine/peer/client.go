package peer

import (
	"context"
	"crypto/tls"
	"fmt"
	"iter"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/nsstats"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
	"github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1/peerv1connect"
)

// Resolver maps a node ID to its peer address (host:port).
type Resolver func(id string) (addr string, ok bool)

// HTTPClient sends the HTTP requests of peer calls; an *http.Client from
// [NewPlaintextClient] is one.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Client calls other nodes. Its errors are what the called node answered
// (engine errors, [ErrNotCoordinator], context errors), an error wrapping
// [ErrNoAnswer] when the node did not answer, or a context error when the
// caller's context ended first. It is safe for concurrent use.
type Client struct {
	self    string
	http    HTTPClient
	resolve Resolver

	mu      sync.Mutex
	clients map[string]peerv1connect.PeerServiceClient // by address
	calls   map[string]callScope                       // by address (callsTo)

	// Streams carry the hot calls when open (stream_client.go).
	streams streams

	// Calls waiting to share a request (coalesce.go).
	replicates coalescer[replicateKey, []*peerv1.KeyObject, bool]
	reads      coalescer[string, *peerv1.ReadRequest, []byte] // by address
}

// replicateKey is what Replicate calls that share a request have in
// common: the node, the sync flag and intended owner the request carries,
// and whether they are batches of several objects, which queue apart from
// single writes (coalesce.go).
type replicateKey struct {
	addr  string
	sync  bool
	owner string
	batch bool
}

// PeerConnsPerNode is the most connections a node opens to one other node:
// calls beyond it wait for one to be free. Peer calls use HTTP/1.1
// keep-alive connections, one call at a time each, not HTTP/2 streams:
// Go's HTTP/2 server runs each stream on a fresh goroutine and writes
// through another, and a peer call cost a third more CPU that way
// (BenchmarkPeerRead; docs/performance.md).
const PeerConnsPerNode = 64

// NewPlaintextClient returns an HTTP client that calls the peer listener in
// clear text (loopback and tests). wrap, if not nil, wraps its transport
// (tests inject faults there).
func NewPlaintextClient(wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	var rt http.RoundTripper = inMemoryBodies{newTransport(nil)}
	if wrap != nil {
		rt = wrap(rt)
	}
	return &http.Client{Transport: rt}
}

// NewTLSClient returns an HTTP client that calls the peer listener over
// TLS with conf (mutual TLS: conf carries this node's certificate and the
// cluster CA). A [Client] given one calls https:// addresses. wrap is as
// for [NewPlaintextClient].
func NewTLSClient(conf *tls.Config, wrap func(http.RoundTripper) http.RoundTripper) HTTPClient {
	var rt http.RoundTripper = inMemoryBodies{newTransport(conf)}
	if wrap != nil {
		rt = wrap(rt)
	}
	return tlsClient{&http.Client{Transport: rt}}
}

// newTransport returns the HTTP/1.1 transport of peer calls, over TLS with
// conf when it is not nil.
func newTransport(conf *tls.Config) *http.Transport {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Transport{
		Protocols:           &p,
		TLSClientConfig:     conf,
		DialContext:         dialResetting,
		TLSHandshakeTimeout: 5 * time.Second,
		IdleConnTimeout:     time.Minute,
		MaxIdleConnsPerHost: PeerConnsPerNode,
		MaxConnsPerHost:     PeerConnsPerNode,
	}
}

// dialResetting dials a peer connection that closes with a reset (TCP
// RST, SO_LINGER 0) instead of a FIN. A peer connection is closed when
// what is in flight on it is abandoned: a stream failed (silent past a
// call's deadline, or broken), a call given up, the client closed. A FIN
// lets the peer read every request queued for it first; a reset makes its
// kernel drop them, so a node that was paused or cut off does not come
// back to requests nobody waits for (Client.Abandon).
func dialResetting(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: a FIN is only slower
	}
	return c, err
}

// tlsClient marks an HTTP client that calls peers over TLS.
type tlsClient struct{ *http.Client }

// NewClient returns a Client for node self.
func NewClient(self string, httpClient HTTPClient, resolve Resolver) *Client {
	c := &Client{self: self, http: httpClient, resolve: resolve, clients: map[string]peerv1connect.PeerServiceClient{}}
	c.streams.open = func(addr string) (*stream, error) { return openStream(httpClient, c.scheme(), addr) }
	c.replicates = coalescer[replicateKey, []*peerv1.KeyObject, bool]{
		send: c.sendReplicate, size: objectsSize, maxSize: batchBytes,
	}
	c.reads = coalescer[string, *peerv1.ReadRequest, []byte]{
		send: c.sendReads, maxSize: batchBytes,
		// At most MaxReadsPerRequest reads, and batchBytes of keys.
		size: func(r *peerv1.ReadRequest) int {
			return max(len(r.Namespace)+len(r.Key), batchBytes/MaxReadsPerRequest)
		},
	}
	return c
}

// DisableStreams makes every call of c go over Connect, none over peer
// streams (stream.go), and closes the streams open.
func (c *Client) DisableStreams() {
	c.streams.disable()
}

// Close closes c's peer streams; calls after it go over Connect.
func (c *Client) Close() {
	c.streams.disable()
}

// Abandon ends the Replicate and Read calls waiting on the node at addr,
// one gossip declared down: those queued to share a request, those on its
// peer stream (which it fails) and those sent over Connect. They end as
// no answer, so a coordinator keeps hints for their writes, delivered
// later at a paced rate; their connections close with a reset, so the
// node drops the requests it has not read. A node paused or cut off for
// seconds otherwise came back to every request queued for it within its
// callers' 10 s deadlines, and served them all at once
// (docs/benchmarks.md, session 15). The next call to the node opens a new
// stream.
func (c *Client) Abandon(addr string) {
	// The queued calls first: once the sent ones end, their senders would
	// send the queued ones next.
	c.replicates.abandon(func(k replicateKey) bool { return k.addr == addr }, errCallAbandoned)
	c.reads.abandon(func(k string) bool { return k == addr }, errCallAbandoned)
	c.mu.Lock()
	scope, ok := c.calls[addr]
	delete(c.calls, addr)
	c.mu.Unlock()
	if ok {
		scope.cancel(errCallAbandoned)
	}
	c.streams.abandon(addr)
}

// errCallAbandoned ends the calls Abandon ends.
var errCallAbandoned = fmt.Errorf("%w: %w", ErrNoAnswer, errAbandoned)

// callScope is what the coalesced Connect calls to one node run under
// until Abandon cancels it.
type callScope struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// callsTo returns the context the coalesced Connect calls to addr derive
// from.
func (c *Client) callsTo(addr string) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	scope, ok := c.calls[addr]
	if !ok {
		scope.ctx, scope.cancel = context.WithCancelCause(context.Background())
		if c.calls == nil {
			c.calls = map[string]callScope{}
		}
		c.calls[addr] = scope
	}
	return scope.ctx
}

// Streaming reports whether the hot calls to node to go over a peer
// stream now; when not, it starts opening one (stream_client.go).
func (c *Client) Streaming(to string) bool {
	addr, ok := c.resolve(to)
	return ok && c.streams.get(addr) != nil
}

// sendReplicate is one Replicate request of several calls' objects.
func (c *Client) sendReplicate(key replicateKey, parts [][]*peerv1.KeyObject, deadline time.Time) ([]bool, error) {
	var objs []*peerv1.KeyObject
	for _, p := range parts {
		objs = append(objs, p...)
	}
	req := &peerv1.ReplicateRequest{From: c.self, Objects: objs, Sync: key.sync, IntendedOwner: key.owner}
	res := &peerv1.ReplicateResponse{}
	err := errNotSent
	if s := c.streams.get(key.addr); s != nil {
		err = s.call(key.addr, deadline, methodReplicate, req, res)
	}
	if err == errNotSent {
		res, err = connectCall(c.callsTo(key.addr), deadline, req, c.at(key.addr).Replicate)
	}
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(parts))
	for i := range out {
		out[i] = res.GetDurable()
	}
	return out, nil
}

// connectCall makes a coalesced request over Connect in scope (callsTo),
// bounded by deadline (a stream call carries its deadline in its frame).
func connectCall[Req, Res any](scope context.Context, deadline time.Time, req *Req, call func(context.Context, *Req) (*Res, error)) (*Res, error) {
	ctx, cancel := context.WithDeadline(scope, deadline)
	defer cancel()
	res, err := call(ctx, req)
	if err != nil && scope.Err() != nil { // abandoned (errCallAbandoned), as a stream's calls are
		return nil, context.Cause(scope)
	}
	return res, err
}

// sendReads is one Read request, or a ReadMany of several calls' keys.
func (c *Client) sendReads(addr string, reads []*peerv1.ReadRequest, deadline time.Time) ([][]byte, error) {
	s := c.streams.get(addr)
	if len(reads) == 1 {
		res := &peerv1.ReadResponse{}
		err := errNotSent
		if s != nil {
			err = s.call(addr, deadline, methodRead, reads[0], res)
		}
		if err == errNotSent {
			res, err = connectCall(c.callsTo(addr), deadline, reads[0], c.at(addr).Read)
		}
		if err != nil {
			return nil, err
		}
		return [][]byte{res.GetObject()}, nil
	}
	req, res := &peerv1.ReadManyRequest{Reads: reads}, &peerv1.ReadManyResponse{}
	err := errNotSent
	if s != nil {
		err = s.call(addr, deadline, methodReadMany, req, res)
	}
	if err == errNotSent {
		res, err = connectCall(c.callsTo(addr), deadline, req, c.at(addr).ReadMany)
	}
	if err != nil {
		return nil, err
	}
	if len(res.GetObjects()) != len(reads) {
		return nil, malformed(addr, fmt.Errorf("%d objects for %d reads", len(res.GetObjects()), len(reads)))
	}
	return res.GetObjects(), nil
}

func objectsSize(objs []*peerv1.KeyObject) int {
	n := 0
	for _, ko := range objs {
		n += len(ko.Namespace) + len(ko.Key) + len(ko.Object)
	}
	return n
}

func (c *Client) client(id string) (peerv1connect.PeerServiceClient, error) {
	_, pc, err := c.clientAddr(id)
	return pc, err
}

// clientAddr returns node id's address and the client that calls it.
func (c *Client) clientAddr(id string) (string, peerv1connect.PeerServiceClient, error) {
	addr, ok := c.resolve(id)
	if !ok {
		return "", nil, fmt.Errorf("%w: no address known for node %s", ErrNoAnswer, id)
	}
	return addr, c.at(addr), nil
}

// at returns the client that calls addr.
func (c *Client) at(addr string) peerv1connect.PeerServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.clients[addr]
	if !ok {
		pc = peerv1connect.NewPeerServiceClient(c.http, c.scheme()+addr, clientGzip, connect.WithSendGzip(),
			connect.WithCompressMinBytes(CompressMinBytes), connect.WithInterceptors(clientErrors{}))
		c.clients[addr] = pc
	}
	return pc
}

// scheme is the URL scheme of calls to peers.
func (c *Client) scheme() string {
	if _, ok := c.http.(tlsClient); ok {
		return "https://"
	}
	return "http://"
}

// Replicate sends objects to node to for Local.Apply: it merges them into
// its replica or, when intendedOwner is set, keeps them as hints for that
// node. durable reports that they reached its disk (sync asks for that).
// Concurrent calls to the same node may share a request (coalesce.go). A
// large batch travels in several requests below [MaxRequestBytes]; on an
// error some of them may have been applied (merges are idempotent: send
// them again).
func (c *Client) Replicate(ctx context.Context, to string, objs []Object, sync bool, intendedOwner string) (durable bool, err error) {
	addr, pc, err := c.clientAddr(to)
	if err != nil {
		return false, err
	}
	parts := slices.Collect(batches(objs))
	if len(parts) == 1 {
		key := replicateKey{addr: addr, sync: sync, owner: intendedOwner, batch: len(objs) > 1}
		return c.replicates.do(ctx, key, parts[0])
	}
	durable = true
	for _, part := range parts {
		res, err := pc.Replicate(ctx, &peerv1.ReplicateRequest{
			From: c.self, Objects: part, Sync: sync, IntendedOwner: intendedOwner,
		})
		if err != nil {
			return false, err
		}
		durable = durable && res.GetDurable()
	}
	return durable, nil
}

// ReplicateAsync is [Client.Replicate] without the wait: it returns at
// once and calls done with the result exactly once, from another
// goroutine, which done must not block (a send on a buffered channel).
// A coordinator writing to N-1 peers thus hands each write to the peer's
// queue instead of starting a goroutine per peer that only waits.
func (c *Client) ReplicateAsync(ctx context.Context, to string, objs []Object, sync bool, intendedOwner string, done func(durable bool, err error)) {
	if addr, _, err := c.clientAddr(to); err == nil {
		if parts := slices.Collect(batches(objs)); len(parts) == 1 {
			deadline, _ := ctx.Deadline()
			key := replicateKey{addr: addr, sync: sync, owner: intendedOwner, batch: len(objs) > 1}
			c.replicates.start(key, parts[0], deadline, done)
			return
		}
	}
	go func() { done(c.Replicate(ctx, to, objs, sync, intendedOwner)) }() // an error, or a batch of several requests
}

// Read returns node to's replica of a key (Local.ReadLocal); the zero
// object if it holds none. Concurrent reads of one node share a ReadMany
// request (coalesce.go).
func (c *Client) Read(ctx context.Context, to, ns string, key []byte) (dvv.Object, error) {
	addr, _, err := c.clientAddr(to)
	if err != nil {
		return dvv.Object{}, err
	}
	raw, err := c.reads.do(ctx, addr, &peerv1.ReadRequest{Namespace: ns, Key: key})
	if err != nil {
		return dvv.Object{}, err
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return dvv.Object{}, malformed(to, err)
	}
	return obj, nil
}

// Coordinate asks node to to coordinate a write (Local.Coordinate) and
// returns the written object and its acknowledgements. An error that does
// not wrap [ErrNoAnswer] or [ErrNotCoordinator] is final: the coordinator
// answered it, and the write may have been applied.
func (c *Client) Coordinate(ctx context.Context, to string, req CoordinateRequest) (dvv.Object, int, error) {
	pc, err := c.client(to)
	if err != nil {
		return dvv.Object{}, 0, err
	}
	res, err := pc.Coordinate(ctx, encodeCoordinate(req))
	if err != nil {
		return dvv.Object{}, 0, err
	}
	obj, err := decodeObject(res.GetObject())
	if err != nil {
		return dvv.Object{}, 0, malformed(to, err)
	}
	return obj, int(res.GetAcks()), nil
}

// Tree returns the segment hashes of node to's anti-entropy tree of a
// partition (Local.Tree).
func (c *Client) Tree(ctx context.Context, to string, partition uint16) ([]uint64, error) {
	pc, err := c.client(to)
	if err != nil {
		return nil, err
	}
	res, err := pc.Tree(ctx, &peerv1.TreeRequest{Partition: uint32(partition)})
	if err != nil {
		return nil, err
	}
	return res.GetSegments(), nil
}

// Segment returns node to's objects in some segments of a partition's
// anti-entropy tree (Local.Segment).
func (c *Client) Segment(ctx context.Context, to string, partition uint16, segments []uint32) ([]Object, error) {
	pc, err := c.client(to)
	if err != nil {
		return nil, err
	}
	res, err := pc.Segment(ctx, &peerv1.SegmentRequest{Partition: uint32(partition), Segments: segments})
	if err != nil {
		return nil, err
	}
	objs, err := decodeObjects(res.GetObjects())
	if err != nil {
		return nil, malformed(to, err)
	}
	return objs, nil
}

// Purge asks node to to remove the objects whose copies there are exactly
// these (Local.Purge) and returns how many it removed. Batches are split as
// Replicate's.
func (c *Client) Purge(ctx context.Context, to string, objs []Object) (int, error) {
	pc, err := c.client(to)
	if err != nil {
		return 0, err
	}
	purged := 0
	for part := range batches(objs) {
		res, err := pc.Purge(ctx, &peerv1.PurgeRequest{Objects: part})
		if err != nil {
			return purged, err
		}
		purged += int(res.GetPurged())
	}
	return purged, nil
}

// FetchModule returns the resolver module node to holds under a hash
// (Local.FetchModule), nil if it holds none.
func (c *Client) FetchModule(ctx context.Context, to, sha256 string) ([]byte, error) {
	pc, err := c.client(to)
	if err != nil {
		return nil, err
	}
	res, err := pc.FetchModule(ctx, &peerv1.FetchModuleRequest{Sha256: sha256})
	if err != nil {
		return nil, err
	}
	return res.GetModule(), nil
}

// NamespaceStats returns node to's own numbers of a namespace
// (Local.NamespaceStats), without histograms.
func (c *Client) NamespaceStats(ctx context.Context, to, ns string) (nsstats.Stats, error) {
	pc, err := c.client(to)
	if err != nil {
		return nsstats.Stats{}, err
	}
	res, err := pc.NamespaceStats(ctx, &peerv1.NamespaceStatsRequest{Namespace: ns})
	if err != nil {
		return nsstats.Stats{}, err
	}
	return decodeNamespaceStats(to, ns, res), nil
}

// batches yields objs in wire form, in parts of at most batchBytes of
// objects each (an object larger than that alone), and one empty part for
// no objects.
func batches(objs []Object) iter.Seq[[]*peerv1.KeyObject] {
	return func(yield func([]*peerv1.KeyObject) bool) {
		all := encodeObjects(objs)
		start, size := 0, 0
		for i, ko := range all {
			n := len(ko.Namespace) + len(ko.Key) + len(ko.Object)
			if i > start && size+n > batchBytes {
				if !yield(all[start:i]) {
					return
				}
				start, size = i, 0
			}
			size += n
		}
		if start < len(all) || len(all) == 0 {
			yield(all[start:])
		}
	}
}

// malformed is the error of an answer whose objects do not decode: the
// node answered, but with nothing usable.
func malformed(from string, err error) error {
	return fmt.Errorf("%w: node %s sent a malformed object: %v", errs.ErrUnavailable, from, err)
}
