package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
	"github.com/concord-kv/concord/resolvers/laws"
)

func newResolverCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resolver",
		Short: "Upload, check and list WebAssembly resolvers",
		Long: `A resolver is WebAssembly merge logic (ABI v1, see resolvers/ABI.md) that the
servers run over a key's siblings. Built-ins: ` + strings.Join(builtin.Names(), ", ") + `.

Before a module is activated the server checks it on your sample values:
determinism and sibling-order insensitivity (failing either refuses the
upload), idempotence and associativity (reported as warnings).`,
	}
	cmd.AddCommand(newResolverUploadCmd(g), newResolverTestCmd(g), newResolverListCmd(g), newResolverDeleteCmd(g))
	return cmd
}

func adminClient(g *globalFlags) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(g.http, g.endpoint)
}

// resolverSource is a module file or a built-in name.
type resolverSource struct {
	builtin string
	config  string
	samples string
}

func (s *resolverSource) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.builtin, "builtin", "", "use a built-in resolver instead of a file: "+strings.Join(builtin.Names(), ", "))
	cmd.Flags().StringVar(&s.config, "resolver-config", "", "resolver config bytes (what the module reads with config_read)")
	cmd.Flags().StringVar(&s.samples, "samples", "", "file of sample values: a JSON array (each element is one value; strings as text, others as JSON) or one value per line")
}

// module returns the module bytes (nil with a built-in).
func (s *resolverSource) module(args []string) ([]byte, error) {
	switch {
	case s.builtin != "" && len(args) > 0:
		return nil, errors.New("give a module file or --builtin, not both")
	case s.builtin != "":
		return nil, nil
	case len(args) == 0:
		return nil, errors.New("give a module file (FILE.wasm) or --builtin NAME")
	}
	return os.ReadFile(args[0])
}

// readSamples reads a samples file: a JSON array, or one value per line.
func readSamples(path string) ([][]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		out := make([][]byte, 0, len(arr))
		for _, el := range arr {
			var s string
			if json.Unmarshal(el, &s) == nil {
				out = append(out, []byte(s))
			} else {
				out = append(out, []byte(el))
			}
		}
		return out, nil
	}
	var out [][]byte
	for line := range strings.SplitSeq(strings.TrimRight(string(raw), "\n"), "\n") {
		out = append(out, []byte(line))
	}
	return out, nil
}

func parseMode(s string) (adminv1.ResolverMode, error) {
	switch s {
	case "on_write", "on-write":
		return adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE, nil
	case "on_read", "on-read":
		return adminv1.ResolverMode_RESOLVER_MODE_ON_READ, nil
	case "client":
		return adminv1.ResolverMode_RESOLVER_MODE_CLIENT, nil
	}
	return 0, fmt.Errorf("--mode %q: use on_write, on_read or client", s)
}

func newResolverUploadCmd(g *globalFlags) *cobra.Command {
	var (
		src                  resolverSource
		mode, name           string
		writeMS, readMS, mem uint32
	)
	cmd := &cobra.Command{
		Use:   "upload NAMESPACE [FILE.wasm]",
		Short: "Check a resolver on sample values and make it the namespace's resolver",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := src.module(args[1:])
			if err != nil {
				return err
			}
			samples, err := readSamples(src.samples)
			if err != nil {
				return err
			}
			m, err := parseMode(mode)
			if err != nil {
				return err
			}
			req := &adminv1.UploadResolverRequest{Namespace: args[0], Mode: m, Config: []byte(src.config), Samples: samples,
				Name: name, WriteDeadlineMs: writeMS, ReadDeadlineMs: readMS, MemoryPages: mem}
			if wasm != nil {
				req.Source = &adminv1.UploadResolverRequest_Module{Module: wasm}
			} else {
				req.Source = &adminv1.UploadResolverRequest_Builtin{Builtin: src.builtin}
			}
			res, err := adminClient(g).UploadResolver(cmd.Context(), req)
			if err != nil {
				return uploadError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), res)
			}
			r := res.GetNamespace().GetResolver()
			fmt.Fprintf(cmd.OutOrStdout(), "namespace %s: resolver %s (%s, sha256 %s, %d bytes)\n", args[0], r.GetName(), modeName(r.GetMode()), r.GetModuleSha256()[:12], r.GetModuleBytes())
			fmt.Fprintln(cmd.OutOrStdout(), res.GetReport().GetText())
			return nil
		},
	}
	src.register(cmd)
	cmd.Flags().StringVar(&mode, "mode", "on_write", "where it runs: on_write, on_read or client")
	cmd.Flags().StringVar(&name, "name", "", "a name for the module (default: its hash)")
	cmd.Flags().Uint32Var(&writeMS, "write-deadline-ms", 0, "per-call deadline on writes (default 20)")
	cmd.Flags().Uint32Var(&readMS, "read-deadline-ms", 0, "per-call deadline on reads (default 50)")
	cmd.Flags().Uint32Var(&mem, "memory-pages", 0, "memory cap in 64 KiB pages (default 256)")
	return cmd
}

// uploadError shows the law report of a refused upload.
func uploadError(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if m, derr := d.Value(); derr == nil {
				if rep, ok := m.(*adminv1.LawReport); ok {
					return fmt.Errorf("refused: the resolver failed the upload checks\n%s", rep.GetText())
				}
			}
		}
	}
	return rpcError(err)
}

func modeName(m adminv1.ResolverMode) string {
	switch m {
	case adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE:
		return "on_write"
	case adminv1.ResolverMode_RESOLVER_MODE_ON_READ:
		return "on_read"
	case adminv1.ResolverMode_RESOLVER_MODE_CLIENT:
		return "client"
	}
	return "unspecified"
}

func newResolverTestCmd(g *globalFlags) *cobra.Command {
	var src resolverSource
	cmd := &cobra.Command{
		Use:   "test [FILE.wasm]",
		Short: "Run the upload checks here, offline, without a server",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := src.module(args)
			if err != nil {
				return err
			}
			if wasm == nil {
				var ok bool
				if wasm, ok = builtin.Module(src.builtin); !ok {
					return fmt.Errorf("no built-in %q; built-ins: %s", src.builtin, strings.Join(builtin.Names(), ", "))
				}
			}
			samples, err := readSamples(src.samples)
			if err != nil {
				return err
			}
			if len(samples) == 0 {
				return errors.New("--samples is required: the checks build sibling sets from your sample values")
			}
			rep, err := checkOffline(cmd.Context(), wasm, []byte(src.config), samples)
			if err != nil {
				return err
			}
			if g.output == "json" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), rep.String())
			}
			if rep.Refused() {
				return errors.New("the module would be refused")
			}
			return nil
		},
	}
	src.register(cmd)
	return cmd
}

// checkOffline compiles and checks a module in this process, as the server
// would on upload.
func checkOffline(ctx context.Context, wasm, config []byte, samples [][]byte) (laws.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
	if err != nil {
		return laws.Report{}, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	mod, err := rt.Compile(ctx, wasm)
	if err != nil {
		return laws.Report{}, err
	}
	ss := make([]laws.Sample, len(samples))
	for i, s := range samples {
		ss[i] = s
	}
	return laws.Check(ctx, rt, mod, ss, laws.Options{Config: config})
}

func newResolverListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the namespaces' resolvers with call statistics (of the node asked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := adminClient(g).ListResolvers(cmd.Context(), &adminv1.ListResolversRequest{})
			if err != nil {
				return rpcError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), res)
			}
			return printResolvers(cmd.OutOrStdout(), res.GetResolvers())
		},
	}
}

func printResolvers(w io.Writer, rs []*adminv1.NamespaceResolver) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tRESOLVER\tMODE\tSHA256\tCALLS\tFAILURES\tBREAKER")
	for _, r := range rs {
		res := r.GetResolver()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.12s\t%d\t%d\t%s\n", r.GetNamespace(), res.GetName(), modeName(res.GetMode()), res.GetModuleSha256(), r.GetCalls(), r.GetFailures(), r.GetBreaker())
	}
	return tw.Flush()
}

func newResolverDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAMESPACE",
		Short: "Return a namespace to client-side resolution",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := adminClient(g).DeleteResolver(cmd.Context(), &adminv1.DeleteResolverRequest{Namespace: args[0]}); err != nil {
				return rpcError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "namespace %s: siblings now go to the client\n", args[0])
			return nil
		},
	}
}
