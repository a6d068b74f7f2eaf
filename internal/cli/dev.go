package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
)

type devFlags struct {
	apiAddr string
	dataDir string
	nodes   int
	cors    []string
	log     logFlags
}

func newDevCmd() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local concord cluster for trying it out (Ctrl-C stops it)",
		Long: `Run a cluster of --nodes concord nodes in this process, on loopback, with
temporary data directories (removed on exit unless --data-dir names a parent
directory), and print every node's API endpoint. Node i serves its API on the
port of --api-addr plus i. Not for production.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.nodes < 1 || f.nodes > 16 {
				return fmt.Errorf("--nodes %d: use 1 to 16", f.nodes)
			}
			if _, err := f.log.logger(cmd.ErrOrStderr()); err != nil {
				return err
			}
			dir := f.dataDir
			if dir == "" {
				var err error
				dir, err = os.MkdirTemp("", "concord-dev-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			return runDev(cmd, f, dir)
		},
	}
	cmd.Flags().StringVar(&f.apiAddr, "api-addr", "127.0.0.1:7700", "HOST:PORT of node 1's API; node i uses PORT+i-1 (port 0 picks free ones)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "keep the nodes' data under this directory instead of a temporary one")
	cmd.Flags().IntVar(&f.nodes, "nodes", 3, "number of nodes")
	cmd.Flags().StringSliceVar(&f.cors, "cors-origin", nil, "web origin (http://localhost:5173, or *) whose pages may call the API from a browser; repeat for several")
	f.log.register(cmd, "warn")
	return cmd
}

func runDev(cmd *cobra.Command, f *devFlags, dir string) error {
	host, port, err := net.SplitHostPort(f.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr %q: %w", f.apiAddr, err)
	}
	basePort, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("--api-addr %q: bad port", f.apiAddr)
	}
	// Every node runs until the command's context ends or one of them
	// stops: then all stop.
	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	// One admin credential for the dev cluster, kept with its data (so a
	// kept --data-dir keeps working) and printed: this is a local sandbox.
	token, _, err := loadOrCreateToken(filepath.Join(dir, adminTokenFile))
	if err != nil {
		return fmt.Errorf("dev: admin credential: %w", err)
	}
	var nodes []*embed.Embedded
	closeAll := func() error {
		stop()
		var errs []error
		for _, e := range nodes {
			errs = append(errs, e.Close())
		}
		return errors.Join(errs...)
	}
	for i := range f.nodes {
		cfg, err := f.nodeConfig(cmd, dir, host, basePort, i)
		if err != nil {
			return errors.Join(err, closeAll())
		}
		cfg.Node.AdminToken = token
		if i > 0 {
			cfg.Node.Cluster.Join = []string{nodes[0].Node().GossipAddr()}
		}
		e, err := embed.Start(ctx, cfg)
		if err != nil {
			return errors.Join(fmt.Errorf("dev node %d: %w", i+1, err), closeAll())
		}
		nodes = append(nodes, e)
		go func() { <-e.Done(); stop() }()
	}
	members := make([]*node.Node, len(nodes))
	for i, e := range nodes {
		members[i] = e.Node()
	}
	formCtx, cancel := context.WithTimeout(ctx, devFormTimeout)
	err = embed.FormCluster(formCtx, members...)
	cancel()
	if err != nil {
		return errors.Join(fmt.Errorf("dev: %w", err), closeAll())
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "concord dev: %d nodes, data in %s\n", f.nodes, dir)
	for i, e := range nodes {
		fmt.Fprintf(out, "  node %d  %s   (gossip %s, admin http://%s)\n", i+1, e.APIURL(), e.Node().GossipAddr(), e.AdminAddr())
	}
	fmt.Fprintf(out, "\nAuthentication is on. Paste this into your shell (the admin credential of this dev cluster):\n\n")
	fmt.Fprintf(out, "  export CONCORD_TOKEN=%s\n", token)
	fmt.Fprintf(out, "\nTry:  concord kv put hello world --endpoint %s\n", nodes[0].APIURL())
	fmt.Fprintf(out, "Add a node:  concord serve --data-dir DIR --join %s, then concord cluster join NODE; concord cluster commit\n", nodes[0].Node().GossipAddr())
	fmt.Fprintln(out, "Stop with Ctrl-C.")
	<-ctx.Done()
	return closeAll()
}

// devFormTimeout bounds forming the dev cluster: gossip finding every node,
// the commit, and the (empty, or for a kept --data-dir small) handoff.
const devFormTimeout = time.Minute

// nodeConfig is the configuration of dev node i (from 0): loopback, free
// peer and gossip ports, its API on the port of --api-addr plus i (or a
// free one), quick gossip and hint delivery.
func (f *devFlags) nodeConfig(cmd *cobra.Command, dir, host string, basePort, i int) (embed.Config, error) {
	log, err := f.log.logger(cmd.ErrOrStderr())
	if err != nil {
		return embed.Config{}, err
	}
	// The admin listener (/metrics, reflection, pprof) on loopback only.
	cfg := embed.Config{APIAddr: net.JoinHostPort(host, "0"), PeerAddr: net.JoinHostPort(host, "0"), AdminAddr: "127.0.0.1:0"}
	cfg.Server.CORSOrigins = f.cors
	if basePort != 0 {
		cfg.APIAddr = net.JoinHostPort(host, strconv.Itoa(basePort+i))
	}
	n := &cfg.Node
	*n = node.DefaultConfig()
	n.DataDir = filepath.Join(dir, fmt.Sprintf("node%d", i+1))
	n.Logger = log.With("dev_node", i+1)
	n.Namespace.N = uint32(min(3, f.nodes))
	n.Namespace.R, n.Namespace.W = n.Namespace.N/2+1, n.Namespace.N/2+1
	n.Cluster = &node.ClusterConfig{GossipAddr: net.JoinHostPort(host, "0"), FastGossip: true, HintInterval: 200 * time.Millisecond}
	return cfg, nil
}
