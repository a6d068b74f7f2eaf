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
	"github.com/concord-kv/concord/internal/wait"
)

type devFlags struct {
	apiAddr string
	dataDir string
	nodes   int
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
			return runDev(cmd, f, dir, f.log)
		},
	}
	cmd.Flags().StringVar(&f.apiAddr, "api-addr", "127.0.0.1:7700", "HOST:PORT of node 1's API; node i uses PORT+i-1 (port 0 picks free ones)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "keep the nodes' data under this directory instead of a temporary one")
	cmd.Flags().IntVar(&f.nodes, "nodes", 3, "number of nodes")
	f.log.register(cmd, "warn")
	return cmd
}

func runDev(cmd *cobra.Command, f *devFlags, dir string, lf logFlags) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	host, port, err := net.SplitHostPort(f.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr %q: %w", f.apiAddr, err)
	}
	basePort, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("--api-addr %q: bad port", f.apiAddr)
	}
	nodes := make([]*node.Node, f.nodes)
	apis := make([]string, f.nodes)
	errc := make(chan error, f.nodes)
	for i := range f.nodes {
		log, _ := lf.logger(cmd.ErrOrStderr())
		cfg := node.DefaultConfig()
		cfg.DataDir = filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		cfg.Logger = log.With("dev_node", i+1)
		cfg.Namespace.N = uint32(min(3, f.nodes))
		cfg.Namespace.R, cfg.Namespace.W = cfg.Namespace.N/2+1, cfg.Namespace.N/2+1
		cfg.Cluster = &node.ClusterConfig{GossipAddr: host + ":0", FastGossip: true, HintInterval: 200 * time.Millisecond}
		if i > 0 {
			cfg.Cluster.Join = []string{nodes[0].GossipAddr()}
		}
		api := host + ":0"
		if basePort != 0 {
			api = net.JoinHostPort(host, strconv.Itoa(basePort+i))
		}
		ready := make(chan struct{})
		go func() {
			errc <- runNode(ctx, cfg, api, host+":0", func(n *node.Node, addr string) {
				nodes[i], apis[i] = n, addr
				close(ready)
			})
		}()
		select {
		case <-ready:
		case err := <-errc:
			cancel()
			return fmt.Errorf("dev node %d: %w", i+1, err)
		}
	}
	if err := formDevCluster(ctx, nodes); err != nil {
		cancel()
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "concord dev: %d nodes, data in %s\n", f.nodes, dir)
	for i, a := range apis {
		fmt.Fprintf(out, "  node %d  http://%s   (gossip %s)\n", i+1, a, nodes[i].GossipAddr())
	}
	fmt.Fprintf(out, "\nTry:  concord kv put hello world --endpoint http://%s\n", apis[0])
	fmt.Fprintf(out, "Add a node:  concord serve --data-dir DIR --join %s, then concord cluster join NODE; concord cluster commit\n", nodes[0].GossipAddr())
	fmt.Fprintln(out, "Stop with Ctrl-C.")
	var errs []error
	for range f.nodes {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// formDevCluster waits until every node is alive in node 1's gossip view,
// commits a ring over all of them, and waits until every node has it.
func formDevCluster(ctx context.Context, nodes []*node.Node) error {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wait.Until(ctx, func() bool {
		for _, id := range ids {
			if !nodes[0].Alive(id) {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("dev: nodes did not find each other: %w", err)
	}
	want, err := nodes[0].SetRingMembers(ids)
	if err != nil {
		return err
	}
	if err := wait.Until(ctx, func() bool {
		for _, n := range nodes {
			if r, ok := n.Ring(); !ok || r.Epoch() < want.Epoch() {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("dev: the ring did not reach every node: %w", err)
	}
	return nil
}
