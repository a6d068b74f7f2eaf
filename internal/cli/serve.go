package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/server"
)

type logFlags struct {
	format string
	level  string
}

func (f *logFlags) register(cmd *cobra.Command, level string) {
	cmd.Flags().StringVar(&f.format, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&f.level, "log-level", level, "log level: debug, info, warn or error")
}

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", f.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", f.format)
}

type serveFlags struct {
	dataDir       string
	apiAddr       string
	peerAddr      string
	gossipAddr    string
	join          []string
	zone          string
	advertiseHost string
	nodeID        string
	partitions    int
	replicas      uint32
	maxValueBytes uint64
	maxSiblings   uint32
	log           logFlags
}

// nodeConfig builds the node's configuration from the flags.
func (f *serveFlags) nodeConfig(log *slog.Logger) node.Config {
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.NodeID, cfg.Partitions, cfg.Logger = f.dataDir, f.nodeID, f.partitions, log
	cfg.Namespace.N = f.replicas
	cfg.Namespace.R = f.replicas/2 + 1
	cfg.Namespace.W = f.replicas/2 + 1
	cfg.Namespace.DW = 1
	cfg.Namespace.Limits.MaxValueBytes = f.maxValueBytes
	cfg.Namespace.Limits.MaxSiblings = f.maxSiblings
	cfg.Cluster = &node.ClusterConfig{GossipAddr: f.gossipAddr, Join: f.join, Zone: f.zone, AdvertiseHost: f.advertiseHost}
	return cfg
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run one concord node",
		Long: `Run one concord node with its data in --data-dir, serving the API on --api-addr.

Every flag can also come from the environment (--data-dir as CONCORD_DATA_DIR)
or from a YAML config file given with --config (data-dir: /var/lib/concord).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.dataDir == "" {
				return errors.New("--data-dir is required (env CONCORD_DATA_DIR)")
			}
			log, err := f.log.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runNode(cmd.Context(), f.nodeConfig(log), f.apiAddr, f.peerAddr, func(n *node.Node, api string) {
				log.Info("serving", "api", "http://"+api, "peer", n.PeerAddr(), "gossip", n.GossipAddr())
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of the node's store (created if missing)")
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:7700", "HOST:PORT of the client API")
	fl.StringVar(&f.peerAddr, "peer-addr", "127.0.0.1:7701", "HOST:PORT of the node-to-node RPC listener")
	fl.StringVar(&f.gossipAddr, "gossip-addr", "127.0.0.1:7702", "HOST:PORT of the gossip (memberlist) listener, TCP and UDP")
	fl.StringSliceVar(&f.join, "join", nil, "gossip addresses of existing members to join (empty: start a new cluster)")
	fl.StringVar(&f.zone, "zone", "", "failure domain of this node (rack or availability zone)")
	fl.StringVar(&f.advertiseHost, "advertise-host", "", "host or IP other nodes and clients use to reach this node (default: the host of each listener; required when listening on 0.0.0.0 or ::)")
	fl.StringVar(&f.nodeID, "node-id", "", "node ID (default: generated on first start and kept in the store)")
	fl.IntVar(&f.partitions, "partitions", 256, "ring partitions Q, a power of two, fixed when the cluster is created")
	fl.Uint32Var(&f.replicas, "replicas", 3, "default N of new namespaces (R and W default to a majority of N)")
	fl.Uint64Var(&f.maxValueBytes, "max-value-bytes", 1<<20, "default largest value of a namespace")
	fl.Uint32Var(&f.maxSiblings, "max-siblings", 100, "default most siblings of a key")
	f.log.register(cmd, "info")
	return cmd
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
			return "", fmt.Errorf("listening on %s (all interfaces): give --advertise-host, the address other nodes reach this one at", addr)
		}
		host = lhost
	}
	return net.JoinHostPort(host, port), nil
}

// runNode opens a node with its API on apiAddr and its peer service on
// peerAddr, serves until ctx is done, and closes it. ready is called once
// both listeners are up.
func runNode(ctx context.Context, cfg node.Config, apiAddr, peerAddr string, ready func(n *node.Node, api string)) error {
	apiLis, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", apiAddr, err)
	}
	peerLis, err := net.Listen("tcp", peerAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", peerAddr, err), apiLis.Close())
	}
	if cfg.Cluster != nil {
		host := cfg.Cluster.AdvertiseHost
		peer, perr := advertised(peerLis.Addr(), host)
		api, aerr := advertised(apiLis.Addr(), host)
		if err := errors.Join(perr, aerr); err != nil {
			return errors.Join(err, apiLis.Close(), peerLis.Close())
		}
		cfg.Cluster.PeerAddr, cfg.Cluster.APIAddr = peer, api
	}
	n, err := node.Open(cfg)
	if err != nil {
		return errors.Join(err, apiLis.Close(), peerLis.Close())
	}
	srv := server.New(n, server.Options{Logger: cfg.Logger})
	ready(n, apiLis.Addr().String())
	var wg sync.WaitGroup
	var peerErr error
	wg.Go(func() { peerErr = server.ServePeer(ctx, peerLis, n, cfg.Logger) })
	err = srv.Serve(ctx, apiLis)
	wg.Wait()
	return errors.Join(err, peerErr, n.Close())
}
