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
	// Server tunes the client API (its limits in Server.Limits). Server.Logger
	// defaults to Node.Logger.
	Server server.Options
	// TLSCertFile and TLSKeyFile, when given (both), make the client API
	// speak TLS only, with this certificate and key in PEM, reloaded when
	// the files change ([server.CertReloader]). Start fails if they do not
	// load or the certificate has expired. They override
	// Server.TLSConfig. Default: plaintext.
	TLSCertFile, TLSKeyFile string
	// AdminAddr is the host:port of the admin listener: /metrics, gRPC
	// reflection and /debug/pprof, with no credential (see
	// docs/security.md). AdminListener is a listener to serve it on
	// instead. Neither: no admin listener.
	AdminAddr     string
	AdminListener net.Listener
	// PeerLimits bound the peer listener's connections; zero fields take
	// [server.DefaultPeerLimits].
	PeerLimits server.Limits
	// PeerCA, PeerCert and PeerKey, when given (all three, PEM files; see
	// `concord cert`), make the peer port mutual TLS (peertls.go): it
	// serves HTTP over TLS and admits only clients with a certificate of
	// the cluster CA PeerCA, peer calls present PeerCert, the node ID is
	// the one PeerCert names, and a join is staged only for a node whose
	// peer port proves its ID with such a certificate. Start fails if they
	// do not load, do not match or have expired. Default: clear text, for
	// loopback only (see InsecurePeer).
	PeerCA, PeerCert, PeerKey string
	// InsecurePeer allows a peer port without mutual TLS on an address
	// other than loopback: anyone who reaches it can read and write every
	// key. Without it Start refuses that.
	InsecurePeer bool
}

// DefaultConfig is the configuration `concord serve` starts from: a
// production node ([node.DefaultConfig]) of a cluster, the API on
// 127.0.0.1:7700, the peer service on 127.0.0.1:7701, gossip on
// 127.0.0.1:7702 and the admin listener on 127.0.0.1:7703. It needs a
// Node.DataDir.
func DefaultConfig() Config {
	n := node.DefaultConfig()
	n.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:7702"}
	return Config{Node: n, APIAddr: "127.0.0.1:7700", PeerAddr: "127.0.0.1:7701", AdminAddr: "127.0.0.1:7703"}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return err
	}
	if err := oneOf("api", c.APIAddr, c.APIListener); err != nil {
		return err
	}
	if c.AdminAddr != "" && c.AdminListener != nil {
		return fmt.Errorf("embed: both an admin address (%s) and a listener: give one", c.AdminAddr)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("embed: TLS needs both a certificate file and a key file (--tls-cert and --tls-key)")
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
	node      *node.Node
	apiAddr   string
	apiURL    string
	peerAddr  string
	adminAddr string
	cancel    context.CancelFunc
	done      chan struct{}
	err       error // set before done is closed
}

// Start listens (or takes the given listeners), computes the addresses the
// node advertises, opens the node and serves its client API and, in a
// cluster, its peer service. The node runs until ctx ends, Close is
// called, or a server fails; it then stops its servers first and the node
// after them. Start returns once the node is open and serving.
func Start(ctx context.Context, cfg Config) (*Embedded, error) {
	given := []net.Listener{cfg.APIListener, cfg.PeerListener, cfg.AdminListener}
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
	if cfg.TLSCertFile != "" {
		certs, err := server.NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.Server.Logger)
		if err != nil {
			return nil, errors.Join(err, closeAll(given...))
		}
		cfg.Server.TLSConfig = certs.TLSConfig()
	}
	adminLis, err := listenAdmin(cfg)
	if err != nil {
		return nil, errors.Join(err, closeAll(cfg.APIListener, cfg.PeerListener))
	}
	apiLis, peerLis, err := listen(cfg)
	if err != nil {
		return nil, errors.Join(err, closeAll(adminLis))
	}
	if cc := cfg.Node.Cluster; cc != nil {
		api, aerr := advertised(apiLis.Addr(), cc.AdvertiseHost)
		peer, perr := advertised(peerLis.Addr(), cc.AdvertiseHost)
		if err := errors.Join(aerr, perr); err != nil {
			return nil, errors.Join(err, closeAll(apiLis, peerLis, adminLis))
		}
		if cc.APIAddr == "" {
			cc.APIAddr = api
		}
		if cc.PeerAddr == "" {
			cc.PeerAddr = peer
		}
	}
	peerTLS, err := securePeer(&cfg, peerLis)
	if err != nil {
		return nil, errors.Join(err, closeAll(apiLis, peerLis, adminLis))
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.Join(err, closeAll(apiLis, peerLis, adminLis))
	}
	n, err := node.Open(cfg.Node)
	if err != nil {
		return nil, errors.Join(err, closeAll(apiLis, peerLis, adminLis))
	}
	srv := server.New(n, cfg.Server)
	runCtx, cancel := context.WithCancel(ctx)
	e := &Embedded{node: n, apiAddr: apiLis.Addr().String(), cancel: cancel, done: make(chan struct{})}
	e.apiURL = "http://" + e.apiAddr
	if cfg.Server.TLSConfig != nil {
		e.apiURL = "https://" + e.apiAddr
	}
	if peerLis != nil {
		e.peerAddr = peerLis.Addr().String()
	}
	if adminLis != nil {
		e.adminAddr = adminLis.Addr().String()
	}
	peerOpts := server.PeerOptions{Logger: cfg.Node.Logger, Limits: cfg.PeerLimits, TLSConfig: peerTLS}
	go e.run(runCtx, srv, listeners{api: apiLis, peer: peerLis, admin: adminLis}, peerOpts)
	return e, nil
}

// listenAdmin opens the admin listener, takes the given one, or returns
// nil for none.
func listenAdmin(cfg Config) (net.Listener, error) {
	if cfg.AdminListener != nil || cfg.AdminAddr == "" {
		return cfg.AdminListener, nil
	}
	lis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("embed: listen on %s (admin): %w", cfg.AdminAddr, err)
	}
	return lis, nil
}

// listeners are a running node's: peer and admin may be nil.
type listeners struct{ api, peer, admin net.Listener }

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
// node once every server has drained.
func (e *Embedded) run(ctx context.Context, srv *server.Server, lis listeners, peerOpts server.PeerOptions) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var apiErr, peerErr, adminErr error
	wg.Go(func() {
		apiErr = srv.Serve(ctx, lis.api)
		cancel() // a failed server takes the others down with it
	})
	if lis.peer != nil {
		wg.Go(func() {
			peerErr = server.ServePeer(ctx, lis.peer, e.node, peerOpts)
			cancel()
		})
	}
	if lis.admin != nil {
		wg.Go(func() {
			adminErr = srv.ServeAdmin(ctx, lis.admin)
			cancel()
		})
	}
	wg.Wait()
	e.err = errors.Join(apiErr, peerErr, adminErr, e.node.Close())
	close(e.done)
}

// Node is the running node.
func (e *Embedded) Node() *node.Node { return e.node }

// APIAddr is the address the client API listens on (host:port).
func (e *Embedded) APIAddr() string { return e.apiAddr }

// APIURL is the client API's base URL: https://host:port with TLS,
// http://host:port without.
func (e *Embedded) APIURL() string { return e.apiURL }

// PeerAddr is the address the peer service listens on ("" without a
// cluster).
func (e *Embedded) PeerAddr() string { return e.peerAddr }

// AdminAddr is the address the admin listener listens on ("" without
// one).
func (e *Embedded) AdminAddr() string { return e.adminAddr }

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
