// Package peer is the node-to-node RPC of a cluster (concord.peer.v1 over
// Connect, HTTP/2 cleartext): a [Client] that implements coord.Peers and a
// [Handler] that serves the same calls from a [Local] node.
//
// Errors cross intact. The handler answers every error as a Connect error
// carrying a concord.peer.v1.EngineError detail that holds the engine error
// (package engine/errs) with all its fields; the client rebuilds the same
// error from it, so callers see engine errors, never Connect errors. A call
// whose error carries no such detail was not answered by the other node,
// and the client reports [ErrNoAnswer]: only then may a caller try another
// node instead.
package peer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	peerv1 "github.com/concord-kv/concord/proto/gen/concord/peer/v1"
	"github.com/concord-kv/concord/proto/gen/concord/peer/v1/peerv1connect"
)

// Resolver maps a node ID to its peer address (host:port).
type Resolver func(id string) (addr string, ok bool)

// Client calls other nodes. It is safe for concurrent use.
type Client struct {
	self    string
	http    connect.HTTPClient
	resolve Resolver

	mu      sync.Mutex
	clients map[string]peerv1connect.PeerServiceClient // by address
}

// NewH2CClient returns an HTTP client that speaks HTTP/2 cleartext, the
// protocol of the peer listener. wrap, if not nil, wraps its transport (tests
// inject faults there).
func NewH2CClient(wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	var rt http.RoundTripper = &http.Transport{
		Protocols:       &p,
		DialContext:     (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		IdleConnTimeout: time.Minute,
	}
	if wrap != nil {
		rt = wrap(rt)
	}
	return &http.Client{Transport: rt}
}

// NewClient returns a Client for node self.
func NewClient(self string, httpClient connect.HTTPClient, resolve Resolver) *Client {
	return &Client{self: self, http: httpClient, resolve: resolve, clients: map[string]peerv1connect.PeerServiceClient{}}
}

func (c *Client) client(id string) (peerv1connect.PeerServiceClient, error) {
	addr, ok := c.resolve(id)
	if !ok {
		return nil, fmt.Errorf("%w: no address known for node %s", ErrNoAnswer, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.clients[addr]
	if !ok {
		pc = peerv1connect.NewPeerServiceClient(c.http, "http://"+addr, connect.WithSendGzip(),
			connect.WithInterceptors(clientErrors{}))
		c.clients[addr] = pc
	}
	return pc, nil
}

// Replicate implements coord.Peers.
func (c *Client) Replicate(ctx context.Context, to string, r coord.Replication) (bool, error) {
	pc, err := c.client(to)
	if err != nil {
		return false, err
	}
	raw, err := r.Object.MarshalBinary()
	if err != nil {
		return false, err
	}
	res, err := pc.Replicate(ctx, &peerv1.ReplicateRequest{
		From:          c.self,
		Objects:       []*peerv1.KeyObject{{Namespace: r.Namespace, Key: r.Key, Object: raw}},
		Sync:          r.Sync,
		IntendedOwner: r.IntendedOwner,
	})
	if err != nil {
		return false, err
	}
	return res.GetDurable(), nil
}

// ReplicateBatch sends many objects in one call (hint delivery, repair).
func (c *Client) ReplicateBatch(ctx context.Context, to string, objs []*peerv1.KeyObject, sync bool) error {
	pc, err := c.client(to)
	if err != nil {
		return err
	}
	_, err = pc.Replicate(ctx, &peerv1.ReplicateRequest{From: c.self, Objects: objs, Sync: sync})
	return err
}

// Read implements coord.Peers.
func (c *Client) Read(ctx context.Context, to, ns string, key []byte) (dvv.Object, error) {
	pc, err := c.client(to)
	if err != nil {
		return dvv.Object{}, err
	}
	res, err := pc.Read(ctx, &peerv1.ReadRequest{Namespace: ns, Key: key})
	if err != nil {
		return dvv.Object{}, err
	}
	return decodeObject(res.GetObject())
}

// Coordinate asks node to coordinate a write. An error is the engine error
// the coordinator answered with (final: the write may have been applied), or
// wraps [ErrNoAnswer] when the node did not answer (or a context error when
// ctx ended first).
func (c *Client) Coordinate(ctx context.Context, to string, req *peerv1.CoordinateRequest) (dvv.Object, int, error) {
	pc, err := c.client(to)
	if err != nil {
		return dvv.Object{}, 0, err
	}
	res, err := pc.Coordinate(ctx, req)
	if err != nil {
		return dvv.Object{}, 0, err
	}
	obj, err := decodeObject(res.GetObject())
	return obj, int(res.GetAcks()), err
}

// Raw returns the generated client of a node, for the streaming and
// anti-entropy calls. Its errors are decoded like those of the other
// methods.
func (c *Client) Raw(id string) (peerv1connect.PeerServiceClient, error) { return c.client(id) }

func decodeObject(raw []byte) (dvv.Object, error) {
	if len(raw) == 0 {
		return dvv.Object{}, nil
	}
	return dvv.Unmarshal(raw)
}
