package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
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

// config builds the node's configuration from the flags.
func (f *serveFlags) config(log *slog.Logger) embed.Config {
	cfg := embed.DefaultConfig()
	cfg.APIAddr, cfg.PeerAddr = f.apiAddr, f.peerAddr
	n := &cfg.Node
	n.DataDir, n.NodeID, n.Partitions, n.Logger = f.dataDir, f.nodeID, f.partitions, log
	n.Namespace.N = f.replicas
	n.Namespace.R = f.replicas/2 + 1
	n.Namespace.W = f.replicas/2 + 1
	n.Namespace.DW = 1
	n.Namespace.Limits.MaxValueBytes = f.maxValueBytes
	n.Namespace.Limits.MaxSiblings = f.maxSiblings
	n.Cluster = &node.ClusterConfig{GossipAddr: f.gossipAddr, Join: f.join, Zone: f.zone, AdvertiseHost: f.advertiseHost}
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
			e, err := embed.Start(cmd.Context(), f.config(log))
			if err != nil {
				return err
			}
			log.Info("serving", "api", "http://"+e.APIAddr(), "peer", e.Node().PeerAddr(), "gossip", e.Node().GossipAddr())
			<-e.Done() // until the command's context ends (Ctrl-C) or a server fails
			return e.Close()
		},
	}
	d := embed.DefaultConfig()
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of the node's store (created if missing)")
	fl.StringVar(&f.apiAddr, "api-addr", d.APIAddr, "HOST:PORT of the client API")
	fl.StringVar(&f.peerAddr, "peer-addr", d.PeerAddr, "HOST:PORT of the node-to-node RPC listener")
	fl.StringVar(&f.gossipAddr, "gossip-addr", d.Node.Cluster.GossipAddr, "HOST:PORT of the gossip (memberlist) listener, TCP and UDP")
	fl.StringSliceVar(&f.join, "join", nil, "gossip addresses of existing members to join (empty: start a new cluster)")
	fl.StringVar(&f.zone, "zone", "", "failure domain of this node (rack or availability zone)")
	fl.StringVar(&f.advertiseHost, "advertise-host", "", "host or IP other nodes and clients use to reach this node (default: the host of each listener; required when listening on 0.0.0.0 or ::)")
	fl.StringVar(&f.nodeID, "node-id", "", "node ID (default: generated on first start and kept in the store)")
	fl.IntVar(&f.partitions, "partitions", d.Node.Partitions, "ring partitions Q, a power of two, fixed when the cluster is created")
	fl.Uint32Var(&f.replicas, "replicas", 3, "default N of new namespaces (R and W default to a majority of N)")
	fl.Uint64Var(&f.maxValueBytes, "max-value-bytes", 1<<20, "default largest value of a namespace")
	fl.Uint32Var(&f.maxSiblings, "max-siblings", 100, "default most siblings of a key")
	f.log.register(cmd, "info")
	return cmd
}
