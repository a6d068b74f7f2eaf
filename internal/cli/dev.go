package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/node"
)

type devFlags struct {
	apiAddr string
	dataDir string
	log     logFlags
}

func newDevCmd() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local concord for trying it out (Ctrl-C stops it)",
		Long: `Run concord locally with a temporary data directory (removed on exit,
unless --data-dir names one), and print its endpoint. Not for production.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := f.log.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			dir := f.dataDir
			if dir == "" {
				dir, err = os.MkdirTemp("", "concord-dev-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			cfg := node.DefaultLocalConfig()
			cfg.DataDir, cfg.Logger = dir, log
			out := cmd.OutOrStdout()
			return runNode(cmd.Context(), cfg, f.apiAddr, func(addr string) {
				fmt.Fprintf(out, "concord dev: 1 node, data in %s\n", dir)
				fmt.Fprintf(out, "  node 1  http://%s\n", addr)
				fmt.Fprintf(out, "\nTry:  concord kv put hello world --endpoint http://%s\n", addr)
				fmt.Fprintln(out, "Stop with Ctrl-C.")
			})
		},
	}
	cmd.Flags().StringVar(&f.apiAddr, "api-addr", "127.0.0.1:7700", "HOST:PORT of the API (port 0 picks a free one)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "keep data here instead of a temporary directory")
	f.log.register(cmd, "warn")
	return cmd
}
