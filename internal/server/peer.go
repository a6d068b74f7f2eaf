package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
)

// PeerOptions tune the peer listener. The zero value is usable.
type PeerOptions struct {
	// Logger receives serving errors. Default slog.Default().
	Logger *slog.Logger
	// Limits bound the peer listener's connections; zero fields take
	// [DefaultPeerLimits].
	Limits Limits
	// TLSConfig, when set, makes the peer listener speak TLS only (HTTP/2
	// and HTTP/1.1 by ALPN). Default: plaintext h2c.
	TLSConfig *tls.Config
}

// peerStreams are the peer service's streaming procedures.
var peerStreams = peer.StreamProcedures

// peerHandler is the HTTP handler of a node's peer service, with the
// per-message deadlines of its streams (idle: see [Limits]; 0 takes the
// default), and the peer server in it, whose peer streams the listener
// closes at shutdown.
func peerHandler(n *node.Node, streamIdle time.Duration) (http.Handler, *peer.Server) {
	mux := http.NewServeMux()
	path, srv := peer.NewHandler(n, peerPolicy{n})
	mux.Handle(path, srv)
	return streamDeadlines(mux, peerStreams, Limits{StreamIdleTimeout: streamIdle}.orDefaults(DefaultPeerLimits()).StreamIdleTimeout), srv
}

// ServePeer serves the node-to-node RPC on lis (h2c, or TLS with
// opts.TLSConfig) until ctx is done.
func ServePeer(ctx context.Context, lis net.Listener, n *node.Node, opts PeerOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	limits := opts.Limits.orDefaults(DefaultPeerLimits())
	h, srv := peerHandler(n, limits.StreamIdleTimeout)
	return serveHTTP(ctx, lis, listenerConfig{
		name: "peer", handler: h, log: opts.Logger, limits: limits,
		tls: opts.TLSConfig, drain: 5 * time.Second, hijacked: srv.Shutdown,
	})
}

// peerPolicy is what the peer handler checks requests against: the
// node's namespaces and ring (see engine/peer's validate.go).
type peerPolicy struct{ n *node.Node }

func (p peerPolicy) Limits(storageNamespace string) (meta.Limits, bool) {
	name, inc, err := meta.ParseStorageName(storageNamespace)
	if err != nil {
		return meta.Limits{}, false
	}
	ns, err := p.n.Namespace(name)
	if err != nil || ns.Incarnation != inc {
		return meta.Limits{}, false
	}
	return ns.Limits, true
}

func (p peerPolicy) RingMember(id string) bool {
	r, ok := p.n.Ring()
	return ok && slices.ContainsFunc(r.Members(), func(m ring.Member) bool { return string(m.ID) == id })
}
