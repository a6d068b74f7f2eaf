package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// clusterSettingFields are the cluster settings: the flag of each (its API
// name with dashes), what it is, and where it lives in the message.
var clusterSettingFields = []struct {
	field, usage string
	value        func(*adminv1.ClusterSettings) *uint32
}{
	{"max_namespaces", "most namespaces the cluster holds (0: default, 1000)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.MaxNamespaces }},
	{"max_resolver_memory_pages", "cap on a resolver's memory_pages, in 64 KiB pages (0: default, 1024; at most 16384)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.MaxResolverMemoryPages }},
	{"max_resolver_deadline_ms", "cap on a resolver's write and read deadlines (0: default, 1000)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.MaxResolverDeadlineMs }},
	{"max_namespace_ops_per_second", "cap on a namespace's reads and writes per second, and the rate of one that sets none (0: uncapped)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.MaxNamespaceOpsPerSecond }},
	{"resolver_cpu_ms_per_second", "resolver CPU ms per second and node of a namespace that sets none, and the cap (0: default, 200)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.ResolverCpuMsPerSecond }},
	{"handoff_objects_per_second", "ceiling of each node's partition handoff rate (0: default, 20000)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.HandoffObjectsPerSecond }},
	{"hints_per_second", "ceiling of each node's hint delivery rate (0: default, 10000)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.HintsPerSecond }},
	{"aae_keys_per_second", "ceiling of each node's anti-entropy repair rate (0: default, 5000)",
		func(s *adminv1.ClusterSettings) *uint32 { return &s.AaeKeysPerSecond }},
}

func settingFlag(field string) string { return strings.ReplaceAll(field, "_", "-") }

func newClusterSettingsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show the cluster-wide caps and background rates",
		Long: `Show the cluster settings in force, defaults filled in: caps on what a
namespace's admin may ask for, and the ceilings of each node's background
rates. Change them with 'concord cluster settings set'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.adminClient().GetClusterSettings(cmd.Context(), &adminv1.GetClusterSettingsRequest{})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printClusterSettings(w, res.GetSettings()) })
		},
	}
	cmd.AddCommand(newClusterSettingsSetCmd(g))
	return cmd
}

func newClusterSettingsSetCmd(g *globalFlags) *cobra.Command {
	in := &adminv1.ClusterSettings{}
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change cluster settings (only the flags given)",
		Long: `Change cluster settings: only the settings whose flags are given change,
and 0 sets one back to its default. Every node applies them within a gossip
interval; a background rate takes effect on the work in progress.

Lowering a cap changes no namespace: one above the new cap keeps its
settings and keeps working, and a later change of a capped setting must fit
the cap.`,
		Example: `  concord cluster settings set --handoff-objects-per-second 5000
  concord cluster settings set --max-namespaces 200 --max-namespace-ops-per-second 50000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var mask, flags []string
			for _, f := range clusterSettingFields {
				flags = append(flags, "--"+settingFlag(f.field))
				if cmd.Flags().Changed(settingFlag(f.field)) {
					mask = append(mask, f.field)
				}
			}
			if len(mask) == 0 {
				return fmt.Errorf("nothing to set: give at least one of %s", strings.Join(flags, ", "))
			}
			res, err := g.adminClient().UpdateClusterSettings(cmd.Context(), &adminv1.UpdateClusterSettingsRequest{
				Settings: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
			})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printClusterSettings(w, res.GetSettings()) })
		},
	}
	for _, f := range clusterSettingFields {
		cmd.Flags().Uint32Var(f.value(in), settingFlag(f.field), 0, f.usage)
	}
	return cmd
}

func printClusterSettings(w io.Writer, s *adminv1.ClusterSettings) {
	if s == nil {
		s = &adminv1.ClusterSettings{}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range clusterSettingFields {
		v := fmt.Sprint(*f.value(s))
		if f.field == "max_namespace_ops_per_second" && *f.value(s) == 0 {
			v = "uncapped"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", strings.ReplaceAll(f.field, "_", " "), v)
	}
	_ = tw.Flush()
}
