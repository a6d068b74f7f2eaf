// Package cli is the cobra command tree of the concord binary. Each command
// group lives in its own file with a flags struct; configuration comes from
// defaults < config file < CONCORD_* environment < flags (see config.go).
package cli

import (
	"net/http"
	"os"

	"github.com/spf13/cobra"
)

// Env is what the commands take from the process, so tests can supply it.
type Env struct {
	// Environ lists the environment as KEY=VALUE. Default os.Environ.
	Environ func() []string
}

// globalFlags are the flags every command has.
type globalFlags struct {
	endpoint string
	caFile   string
	output   string
	config   string
	token    string
	http     *http.Client // of endpoint, with the token; set before a command runs
}

// New returns the root command.
func New(env Env) *cobra.Command {
	if env.Environ == nil {
		env.Environ = os.Environ
	}
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "concord",
		Short:         "concord is a Dynamo-style key-value store with WebAssembly conflict resolvers",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd, g.config, env.Environ); err != nil {
				return err
			}
			var err error
			if g.http, err = newHTTPClient(g.caFile, g.token); err != nil {
				return err
			}
			return checkOutput(g.output)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.endpoint, "endpoint", "http://127.0.0.1:7700", "API endpoint of any node, http:// or https:// (env CONCORD_ENDPOINT)")
	pf.StringVar(&g.caFile, "ca-file", "", "PEM file of the CA(s) that signed an https:// endpoint's certificate (default: the system's roots; env CONCORD_CA_FILE)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.StringVar(&g.config, "config", "", "config file (YAML) with flag names as keys (env CONCORD_CONFIG)")
	pf.StringVar(&g.token, "token", "", "credential sent with every call: a namespace token or the admin credential (prefer env CONCORD_TOKEN or the config file: a flag shows in the process list)")
	root.AddCommand(newServeCmd(), newDevCmd(), newKVCmd(g), newVersionCmd(g))
	root.AddCommand(newClusterCmd(g), newNamespaceCmd(g), newResolverCmd(g))
	root.AddCommand(newCertCmd(), newTokenCmd(g), newBenchCmd(g))
	return root
}
