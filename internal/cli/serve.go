package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/internal/embed"
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
	dataDir        string
	apiAddr        string
	peerAddr       string
	gossipAddr     string
	join           []string
	zone           string
	advertiseHost  string
	nodeID         string
	partitions     int
	replicas       uint32
	maxValueBytes  uint64
	maxSiblings    uint32
	log            logFlags
	api            apiListenerFlags
	peer           peerFlags
	adminToken     string
	adminTokenFile string
	walSync        time.Duration
	peerStreams    bool
	objectCache    int
}

// apiListenerFlags are the client API listener's TLS, limits and the
// admin listener.
type apiListenerFlags struct {
	tlsCert, tlsKey   string
	insecurePlaintext bool
	adminAddr         string
	limits            server.Limits
	corsOrigins       []string
}

func (f *apiListenerFlags) register(fl *pflag.FlagSet, d embed.Config) {
	l := server.DefaultLimits()
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) of the client API; with --tls-key the API speaks TLS only (HTTP/2 and HTTP/1.1), reloaded when the files change")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.BoolVar(&f.insecurePlaintext, "insecure-plaintext", false, "serve the client API without TLS on a non-loopback --api-addr (e.g. behind a TLS-terminating proxy)")
	fl.StringVar(&f.adminAddr, "admin-addr", d.AdminAddr, "HOST:PORT of the admin listener (/metrics, gRPC reflection, /debug/pprof; no credential: keep it on loopback or a management network); empty: none")
	fl.StringSliceVar(&f.corsOrigins, "cors-origin", nil, "web origin (https://app.example.com, or *) whose pages may call the client API from a browser; repeat for several (default: none)")
	fl.IntVar(&f.limits.MaxConns, "max-connections", l.MaxConns, "most client API connections held at once; more wait until one closes")
	fl.DurationVar(&f.limits.ReadTimeout, "read-timeout", l.ReadTimeout, "longest a unary request may take to arrive, body included")
	fl.DurationVar(&f.limits.WriteTimeout, "write-timeout", l.WriteTimeout, "longest a unary call may take from its headers to the end of its answer")
	fl.DurationVar(&f.limits.IdleTimeout, "idle-timeout", l.IdleTimeout, "idle keep-alive connections are closed after this long")
	fl.DurationVar(&f.limits.StreamIdleTimeout, "stream-idle-timeout", l.StreamIdleTimeout, "a stream (list, watch) that sends nothing for this long, or whose client reads nothing, is cut off")
}

// check refuses plaintext on an address other machines can reach unless
// asked for.
func (f *apiListenerFlags) check(apiAddr string) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if f.tlsCert != "" || f.insecurePlaintext || loopback(apiAddr) {
		return nil
	}
	return fmt.Errorf("--api-addr %s is reachable from other machines and no --tls-cert/--tls-key were given: "+
		"keys and values would cross the network in clear text. Give --tls-cert and --tls-key, "+
		"or --insecure-plaintext if something else protects the traffic (a TLS-terminating proxy, a private network)", apiAddr)
}

// loopback reports whether addr's host is a loopback IP or localhost (not
// empty: that listens on every interface).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// config builds the node's configuration from the flags.
func (f *serveFlags) config(log *slog.Logger) embed.Config {
	cfg := embed.DefaultConfig()
	cfg.APIAddr, cfg.PeerAddr = f.apiAddr, f.peerAddr
	n := &cfg.Node
	n.DataDir, n.NodeID, n.Partitions, n.Logger = f.dataDir, f.nodeID, f.partitions, log
	n.WALSyncInterval = f.walSync
	n.ObjectCacheBytes = f.objectCache
	if f.objectCache <= 0 {
		n.ObjectCacheBytes = -1 // the flag's 0 turns the cache off; the config's 0 means the default
	}
	if f.walSync <= 0 {
		n.WALSyncInterval = -1 // the flag's 0 turns the wait off; the config's 0 means the default
	}
	n.Namespace.N = f.replicas
	n.Namespace.R = f.replicas/2 + 1
	n.Namespace.W = f.replicas/2 + 1
	n.Namespace.DW = 1
	n.Namespace.Limits.MaxValueBytes = f.maxValueBytes
	n.Namespace.Limits.MaxSiblings = f.maxSiblings
	n.Cluster = &node.ClusterConfig{GossipAddr: f.gossipAddr, Join: f.join, Zone: f.zone, AdvertiseHost: f.advertiseHost, NoPeerStreams: !f.peerStreams}
	cfg.TLSCertFile, cfg.TLSKeyFile = f.api.tlsCert, f.api.tlsKey
	cfg.AdminAddr = f.api.adminAddr
	cfg.Server.Limits = f.api.limits
	cfg.Server.CORSOrigins = f.api.corsOrigins
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
			if err := f.api.check(f.apiAddr); err != nil {
				return err
			}
			log, err := f.log.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg := f.config(log)
			if err := f.peer.apply(&cfg); err != nil {
				return err
			}
			if cfg.Node.AdminToken, err = f.firstAdminToken(); err != nil {
				return err
			}
			e, err := embed.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := f.ensureAdminToken(e.Node(), log); err != nil {
				return errors.Join(err, e.Close())
			}
			admin := ""
			if e.AdminAddr() != "" {
				admin = "http://" + e.AdminAddr()
			}
			log.Info("serving", "api", e.APIURL(), "peer", e.Node().PeerAddr(), "gossip", e.Node().GossipAddr(), "admin", admin)
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
	fl.StringVar(&f.adminToken, "admin-token", "", "admin credential (at least 20 characters) taken on the node's first start; prefer env CONCORD_ADMIN_TOKEN or --admin-token-file (a flag shows in the process list)")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin credential taken on the node's first start")
	fl.DurationVar(&f.walSync, "wal-sync-interval", pebble.DefaultWALSyncInterval, "shortest time between two fsyncs of the write-ahead log while synced writes overlap: those that arrive within it share the next one, each still acknowledged only once it is on disk; a lone writer never waits (0: sync at once)")
	fl.IntVar(&f.objectCache, "object-cache-bytes", node.DefaultObjectCacheBytes, "memory that keeps recently used objects so that reads of hot keys skip the storage engine (0: none)")
	fl.BoolVar(&f.peerStreams, "peer-streams", true, "carry the hot node-to-node calls (replication, replica reads) as frames on one connection per peer instead of as Connect requests; false calls every peer over Connect only")
	f.api.register(fl, d)
	f.peer.register(fl)
	f.log.register(cmd, "info")
	return cmd
}
