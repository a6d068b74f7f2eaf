package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// adminClient is the AdminService client of --endpoint.
func (g *globalFlags) adminClient() adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(g.http, g.endpoint)
}

// printOutput writes msg as JSON with -o json, else calls table.
func (g *globalFlags) printOutput(w io.Writer, msg proto.Message, table func(io.Writer)) error {
	if g.output == "json" {
		return printJSON(w, msg)
	}
	table(w)
	return nil
}

func newNamespaceCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"ns"},
		Short:   "Create, inspect, change and delete namespaces",
		Long: `Create, inspect, change and delete namespaces. A namespace has its own
replica count (n), default read and write quorums (r, w, dw), durability and
limits. Settings left out on create take the cluster's defaults.`,
	}
	cmd.AddCommand(newNamespaceCreateCmd(g), newNamespaceGetCmd(g), newNamespaceListCmd(g),
		newNamespaceUpdateCmd(g), newNamespaceDeleteCmd(g), newNamespaceStatsCmd(g))
	return cmd
}

// namespaceSettings are the settings flags of create and update.
type namespaceSettings struct {
	n, r, w, dw   uint32
	durability    string
	maxValueBytes uint32
	maxKeyBytes   uint32
	maxSiblings   uint32
	readsPerSec   uint32
	writesPerSec  uint32
	// Quotas and resolver limits.
	maxStoredBytes uint64
	maxKeys        uint64
	resolverCPUMs  uint32
	resolverConc   uint32
	writeBytes     uint64
}

// settingFlags maps each settings flag to its update_mask field name.
var settingFlags = []struct{ flag, field string }{
	{"n", "n"}, {"r", "r"}, {"w", "w"}, {"dw", "dw"}, {"durability", "durability"},
	{"max-value-bytes", "limits.max_value_bytes"},
	{"max-key-bytes", "limits.max_key_bytes"},
	{"max-siblings", "limits.max_siblings"},
	{"reads-per-second", "limits.reads_per_second"},
	{"writes-per-second", "limits.writes_per_second"},
	{"max-stored-bytes", "limits.max_stored_bytes"},
	{"max-keys", "limits.max_keys"},
	{"resolver-cpu-ms-per-second", "limits.resolver_cpu_ms_per_second"},
	{"resolver-concurrency", "limits.resolver_concurrency"},
	{"write-bytes-per-second", "limits.write_bytes_per_second"},
}

// register adds the settings flags; withN says whether --n is one of them
// (a namespace's replica count is fixed once it exists).
func (s *namespaceSettings) register(fs *pflag.FlagSet, withN bool) {
	if withN {
		fs.Uint32Var(&s.n, "n", 0, "replicas per key (default: the cluster's)")
	}
	fs.Uint32Var(&s.r, "r", 0, "replies a get waits for by default")
	fs.Uint32Var(&s.w, "w", 0, "acknowledgements a put or delete waits for by default")
	fs.Uint32Var(&s.dw, "dw", 0, "durable acknowledgements a put waits for by default")
	fs.StringVar(&s.durability, "durability", "", "sync (every write synced to disk) or buffered")
	fs.Uint32Var(&s.maxValueBytes, "max-value-bytes", 0, "largest value in bytes (0: default, 1 MiB)")
	fs.Uint32Var(&s.maxKeyBytes, "max-key-bytes", 0, "longest key in bytes (0: default, 1024)")
	fs.Uint32Var(&s.maxSiblings, "max-siblings", 0, "most siblings a key may have (0: default, 100)")
	fs.Uint32Var(&s.readsPerSec, "reads-per-second", 0, "client gets per second across the cluster (0: unlimited)")
	fs.Uint32Var(&s.writesPerSec, "writes-per-second", 0, "client puts and deletes per second across the cluster (0: unlimited)")
	fs.Uint64Var(&s.maxStoredBytes, "max-stored-bytes", 0, "quota on the bytes stored, keys and live values, one replica counted (0: unlimited)")
	fs.Uint64Var(&s.maxKeys, "max-keys", 0, "quota on the live keys stored (0: unlimited)")
	fs.Uint32Var(&s.resolverCPUMs, "resolver-cpu-ms-per-second", 0, "resolver time per second on each node, in ms (0: the cluster's default)")
	fs.Uint32Var(&s.resolverConc, "resolver-concurrency", 0, "resolver calls running at once on each node (0: default, 2)")
	fs.Uint64Var(&s.writeBytes, "write-bytes-per-second", 0, "bytes client writes may store per second across the cluster, each write counted as its key's object after it (0: unlimited)")
}

// settings builds the message from the flags.
func (s *namespaceSettings) settings() (*adminv1.NamespaceSettings, error) {
	ns := &adminv1.NamespaceSettings{
		N: s.n, R: s.r, W: s.w, Dw: s.dw,
		Limits: &adminv1.Limits{
			MaxValueBytes: s.maxValueBytes, MaxKeyBytes: s.maxKeyBytes, MaxSiblings: s.maxSiblings,
			ReadsPerSecond: s.readsPerSec, WritesPerSecond: s.writesPerSec,
			MaxStoredBytes: s.maxStoredBytes, MaxKeys: s.maxKeys,
			ResolverCpuMsPerSecond: s.resolverCPUMs, ResolverConcurrency: s.resolverConc, WriteBytesPerSecond: s.writeBytes,
		},
	}
	switch s.durability {
	case "":
	case "sync":
		ns.Durability = adminv1.Durability_DURABILITY_SYNC
	case "buffered":
		ns.Durability = adminv1.Durability_DURABILITY_BUFFERED
	default:
		return nil, fmt.Errorf("--durability %q: use sync or buffered", s.durability)
	}
	return ns, nil
}

// mask lists the update_mask fields of the flags given on the command line.
func (s *namespaceSettings) mask(fs *pflag.FlagSet) []string {
	var out []string
	for _, sf := range settingFlags {
		if fs.Lookup(sf.flag) != nil && fs.Changed(sf.flag) {
			out = append(out, sf.field)
		}
	}
	return out
}

func newNamespaceCreateCmd(g *globalFlags) *cobra.Command {
	s := &namespaceSettings{}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a namespace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, err := s.settings()
			if err != nil {
				return err
			}
			res, err := g.adminClient().CreateNamespace(cmd.Context(), &adminv1.CreateNamespaceRequest{Name: args[0], Settings: settings})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printNamespace(w, res.GetNamespace()) })
		},
	}
	s.register(cmd.Flags(), true)
	return cmd
}

func newNamespaceGetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a namespace's settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.adminClient().GetNamespace(cmd.Context(), &adminv1.GetNamespaceRequest{Name: args[0]})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printNamespace(w, res.GetNamespace()) })
		},
	}
}

func newNamespaceListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the namespaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.adminClient().ListNamespaces(cmd.Context(), &adminv1.ListNamespacesRequest{})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tN\tR\tW\tDW\tDURABILITY\tMAX VALUE\tMAX KEY\tMAX SIBLINGS\tREADS/S\tWRITES/S\tCREATED")
				for _, ns := range res.GetNamespaces() {
					l := ns.GetLimits()
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", ns.GetName(), ns.GetN(), ns.GetR(), ns.GetW(), ns.GetDw(),
						durabilityName(ns.GetDurability()), l.GetMaxValueBytes(), l.GetMaxKeyBytes(), l.GetMaxSiblings(),
						rateName(l.GetReadsPerSecond()), rateName(l.GetWritesPerSecond()),
						ns.GetCreatedAt().AsTime().Format(time.RFC3339))
				}
				_ = tw.Flush()
			})
		},
	}
}

func newNamespaceUpdateCmd(g *globalFlags) *cobra.Command {
	s := &namespaceSettings{}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a namespace's settings (only the flags given)",
		Long: `Change a namespace's settings. Only the settings whose flags are given
change; the others keep their values. The replica count n cannot change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mask := s.mask(cmd.Flags())
			if len(mask) == 0 {
				return fmt.Errorf("nothing to update: give at least one of --r, --w, --dw, --durability, --max-value-bytes, --max-key-bytes, --max-siblings, --reads-per-second, --writes-per-second, --max-stored-bytes, --max-keys, --resolver-cpu-ms-per-second, --resolver-concurrency, --write-bytes-per-second")
			}
			settings, err := s.settings()
			if err != nil {
				return err
			}
			res, err := g.adminClient().UpdateNamespace(cmd.Context(), &adminv1.UpdateNamespaceRequest{
				Name: args[0], Settings: settings, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
			})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printNamespace(w, res.GetNamespace()) })
		},
	}
	s.register(cmd.Flags(), false)
	return cmd
}

func newNamespaceDeleteCmd(g *globalFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a namespace and revoke its tokens; its data is removed in the background",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.adminClient().DeleteNamespace(cmd.Context(), &adminv1.DeleteNamespaceRequest{Name: args[0], Force: force})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "namespace %s deleted; its data is removed in the background\n", args[0])
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even the default namespace")
	return cmd
}

func printNamespace(w io.Writer, ns *adminv1.Namespace) {
	l := ns.GetLimits()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]any{
		{"name", ns.GetName()},
		{"n", ns.GetN()}, {"r", ns.GetR()}, {"w", ns.GetW()}, {"dw", ns.GetDw()},
		{"durability", durabilityName(ns.GetDurability())},
		{"max value bytes", l.GetMaxValueBytes()},
		{"max key bytes", l.GetMaxKeyBytes()},
		{"max siblings", l.GetMaxSiblings()},
		{"reads per second", rateName(l.GetReadsPerSecond())},
		{"writes per second", rateName(l.GetWritesPerSecond())},
		{"write bytes per second", quotaName(l.GetWriteBytesPerSecond())},
		{"max stored bytes", quotaName(l.GetMaxStoredBytes())},
		{"max keys", quotaName(l.GetMaxKeys())},
		{"resolver cpu ms per second", orDefaultName(l.GetResolverCpuMsPerSecond())},
		{"resolver concurrency", orDefaultName(l.GetResolverConcurrency())},
		{"created", ns.GetCreatedAt().AsTime().Format(time.RFC3339)},
	} {
		fmt.Fprintf(tw, "%s:\t%v\n", row[0], row[1])
	}
	_ = tw.Flush()
}

// rateName shows a per-second rate limit; 0 is no limit.
func rateName(perSecond uint32) string {
	if perSecond == 0 {
		return "unlimited"
	}
	return fmt.Sprint(perSecond)
}

// quotaName shows a quota; 0 is no quota.
func quotaName(quota uint64) string {
	if quota == 0 {
		return "unlimited"
	}
	return fmt.Sprint(quota)
}

// orDefaultName shows a limit whose 0 means a default.
func orDefaultName(v uint32) string {
	if v == 0 {
		return "default"
	}
	return fmt.Sprint(v)
}

func durabilityName(d adminv1.Durability) string {
	switch d {
	case adminv1.Durability_DURABILITY_SYNC:
		return "sync"
	case adminv1.Durability_DURABILITY_BUFFERED:
		return "buffered"
	}
	return "default"
}
