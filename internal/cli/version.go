package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = "dev"

func newVersionCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rev := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			if g.output == "json" {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "{\"version\":%q,\"revision\":%q,\"go\":%q}\n", version, rev, runtime.Version())
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "concord %s (revision %s, %s)\n", version, rev, runtime.Version())
			return err
		},
	}
}
