// Package embed assembles and runs one concord node: its listeners, the
// addresses it advertises, the [node.Node], the client API
// ([server.Server]) and the peer service. It is the one place that does
// this, like etcd's embed: `concord serve`, `concord dev`, the in-process
// test cluster (internal/clustertest, and through it the examples) and the
// server tests all run nodes with [Start]. [FormCluster] makes started
// nodes one cluster the way an operator does: stage a join for each, then
// commit.
//
// The name follows etcd's; nothing here relates to the standard library's
// embed package (go:embed).
package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/server"
)

// Config is what [Start] needs to run a node. Build it from
// [DefaultConfig] and change what you need.
type Config struct {
	// Node configures the node. With Node.Cluster set the node is a member
	// of a cluster and serves the peer service as well; Start works on a
	// copy of Node.Cluster and fills its PeerAddr and APIAddr, when empty,
	// with the listeners' addresses as others reach them (see
	// AdvertiseHost in [node.ClusterConfig]). Without Node.Cluster the node
	// runs alone and PeerAddr is ignored.
	Node node.Config
	// APIAddr is the host:port the client API listens on. Give it or
	// APIListener, not both.
	APIAddr string
	// APIListener is a listener the client API serves on instead. Start
	// takes it over: it is closed when the node stops, or by Start if it
	// fails. (The test cluster keeps a node's port across restarts by
	// handing each incarnation a listener of its own.)
	APIListener net.Listener
	// PeerAddr and PeerListener are the same for the peer service, for a
	// node of a cluster.
	PeerAddr     string
	PeerListener net.Listener
	// Server tunes the client API. Server.Logger defaults to Node.Logger.
	Server server.Options
}

// DefaultConfig is the configuration `concord serve` starts from: a
// production node ([node.DefaultConfig]) of a cluster, the API on
// 127.0.0.1:7700, the peer service on 127.0.0.1:7701 and gossip on
// 127.0.0.1:7702. It needs a Node.DataDir.
func DefaultConfig() Config {
	n := node.DefaultConfig()
	n.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:7702"}
	return Config{Node: n, APIAddr: "127.0.0.1:7700", PeerAddr: "127.0.0.1:7701"}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return err
	}
	if err := oneOf("api", c.APIAddr, c.APIListener); err != nil {
		return err
	}
	if c.Node.Cluster == nil {
		if c.PeerListener != nil {
			return errors.New("embed: a peer listener for a node without a cluster (Node.Cluster is nil)")
		}
		return nil
	}
	return oneOf("peer", c.PeerAddr, c.PeerListener)
}

func oneOf(what, addr string, lis net.Listener) error {
	switch {
	case addr == "" && lis == nil:
		return fmt.Errorf("embed: no %s address or listener", what)
	case addr != "" && lis != nil:
		return fmt.Errorf("embed: both a %s address (%s) and a listener: give one", what, addr)
	}
	return nil
}

// Embedded is a running node with its servers. It is safe for concurrent
// use.
type Embedded struct {
	node     *node.Node
	apiAddr  string
	peerAddr string
	cancel   context.CancelFunc
	done     chan struct{}
	err      error // set before done is closed
}

// Start listens (or takes the given listeners), computes the addresses the
// node advertises, opens the node and serves its client API and, in a
// cluster, its peer service. The node runs until ctx ends, Close is
// called, or a server fails; it then stops its servers first and the node
// after them. Start returns once the node is open and serving.
func Start(ctx context.Context, cfg Config) (*Embedded, error) {
	given := []net.Listener{cfg.APIListener, cfg.PeerListener}
	if err := cfg.Validate(); err != nil {
		return nil, errors.Join(err, closeAll(given...))
	}
	if cfg.Node.Logger == nil {
		cfg.Node.Logger = slog.Default()
	}
	if cfg.Server.Logger == nil {
		cfg.Server.Logger = cfg.Node.Logger
	}
	if cfg.Node.Cluster != nil {
		cc := *cfg.Node.Cluster // the node fills its defaults in; not into the caller's
		cfg.Node.Cluster = &cc
	}
	apiLis, peerLis, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	if cc := cfg.Node.Cluster; cc != nil {
		api, aerr := advertised(apiLis.Addr(), cc.AdvertiseHost)
		peer, perr := advertised(peerLis.Addr(), cc.AdvertiseHost)
		if err := errors.Join(aerr, perr); err != nil {
			return nil, errors.Join(err, closeAll(apiLis, peerLis))
		}
		if cc.APIAddr == "" {
			cc.APIAddr = api
		}
		if cc.PeerAddr == "" {
			cc.PeerAddr = peer
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.Join(err, closeAll(apiLis, peerLis))
	}
	n, err := node.Open(cfg.Node)
	if err != nil {
		return nil, errors.Join(err, closeAll(apiLis, peerLis))
	}
	srv := server.New(n, cfg.Server)
	runCtx, cancel := context.WithCancel(ctx)
	e := &Embedded{node: n, apiAddr: apiLis.Addr().String(), cancel: cancel, done: make(chan struct{})}
	if peerLis != nil {
		e.peerAddr = peerLis.Addr().String()
	}
	go e.run(runCtx, srv, apiLis, peerLis, cfg.Node.Logger)
	return e, nil
}

// listen opens the listeners the configuration names, or takes the given
// ones. peer is nil for a node without a cluster.
func listen(cfg Config) (api, peer net.Listener, err error) {
	api, peer = cfg.APIListener, cfg.PeerListener
	if api == nil {
		if api, err = net.Listen("tcp", cfg.APIAddr); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("embed: listen on %s: %w", cfg.APIAddr, err), closeAll(peer))
		}
	}
	if peer == nil && cfg.Node.Cluster != nil {
		if peer, err = net.Listen("tcp", cfg.PeerAddr); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("embed: listen on %s: %w", cfg.PeerAddr, err), closeAll(api))
		}
	}
	return api, peer, nil
}

// run serves until ctx ends or a server stops on its own, then closes the
// node once both servers have drained.
func (e *Embedded) run(ctx context.Context, srv *server.Server, apiLis, peerLis net.Listener, log *slog.Logger) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var apiErr, peerErr error
	wg.Go(func() {
		apiErr = srv.Serve(ctx, apiLis)
		cancel() // a failed server takes the other down with it
	})
	if peerLis != nil {
		wg.Go(func() {
			peerErr = server.ServePeer(ctx, peerLis, e.node, log)
			cancel()
		})
	}
	wg.Wait()
	e.err = errors.Join(apiErr, peerErr, e.node.Close())
	close(e.done)
}

// Node is the running node.
func (e *Embedded) Node() *node.Node { return e.node }

// APIAddr is the address the client API listens on (host:port).
func (e *Embedded) APIAddr() string { return e.apiAddr }

// PeerAddr is the address the peer service listens on ("" without a
// cluster).
func (e *Embedded) PeerAddr() string { return e.peerAddr }

// Done is closed once the node has stopped: after Close, when the context
// given to Start ended, or when a server failed (Close then says why).
func (e *Embedded) Done() <-chan struct{} { return e.done }

// Close stops the servers, draining requests in flight, then closes the
// node, and waits for all of it. It returns what went wrong while serving
// or stopping. It is safe to call more than once.
func (e *Embedded) Close() error {
	e.cancel()
	<-e.done
	return e.err
}

// advertised is the address other nodes and clients are told for a
// listener: its port with the advertise host, or its own host.
func advertised(addr net.Addr, host string) (string, error) {
	lhost, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", err
	}
	if host == "" {
		if ip := net.ParseIP(lhost); ip != nil && ip.IsUnspecified() {
			return "", fmt.Errorf("embed: listening on %s (all interfaces): give an advertise host (--advertise-host), the address other nodes reach this one at", addr)
		}
		host = lhost
	}
	return net.JoinHostPort(host, port), nil
}

func closeAll(ls ...net.Listener) error {
	var errs []error
	for _, l := range ls {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	return errors.Join(errs...)
}
