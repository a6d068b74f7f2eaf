package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
)

// PeerHandler is the HTTP handler of a node's peer service.
func PeerHandler(n *node.Node) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(n))
	return mux
}

// ServePeer serves the node-to-node RPC on lis (h2c) until ctx is done.
func ServePeer(ctx context.Context, lis net.Listener, n *node.Node, log *slog.Logger) error {
	return serveHTTP(ctx, lis, PeerHandler(n), log, 5*time.Second, func() {})
}
