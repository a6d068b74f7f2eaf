package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

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
	nodeID        string
	partitions    int
	maxValueBytes uint64
	maxSiblings   uint32
	log           logFlags
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
			cfg := node.DefaultLocalConfig()
			cfg.DataDir, cfg.NodeID, cfg.Partitions, cfg.Logger = f.dataDir, f.nodeID, f.partitions, log
			cfg.Namespace.Limits.MaxValueBytes = f.maxValueBytes
			cfg.Namespace.Limits.MaxSiblings = f.maxSiblings
			return runNode(cmd.Context(), cfg, f.apiAddr, func(addr string) {
				log.Info("serving", "api", "http://"+addr)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of the node's store (created if missing)")
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:7700", "HOST:PORT of the client API")
	fl.StringVar(&f.nodeID, "node-id", "", "node ID (default: generated on first start and kept in the store)")
	fl.IntVar(&f.partitions, "partitions", 256, "ring partitions Q, a power of two, fixed when the store is created")
	fl.Uint64Var(&f.maxValueBytes, "max-value-bytes", 1<<20, "default largest value of a namespace")
	fl.Uint32Var(&f.maxSiblings, "max-siblings", 100, "default most siblings of a key")
	f.log.register(cmd, "info")
	return cmd
}

// runNode opens a node, serves its API on addr until ctx is done, and closes
// it. ready is called with the bound address once the listener is up.
func runNode(ctx context.Context, cfg node.Config, addr string, ready func(addr string)) error {
	n, err := node.Open(cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", addr, err), n.Close())
	}
	ready(lis.Addr().String())
	srv := server.New(n, server.Options{Logger: cfg.Logger})
	return errors.Join(srv.Serve(ctx, lis), n.Close())
}
