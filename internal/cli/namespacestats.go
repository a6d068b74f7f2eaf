package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func newNamespaceStatsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stats NAME",
		Short: "Show a namespace's numbers, summed over the nodes",
		Long: `Show a namespace's numbers, summed over the nodes that answered (the
node --endpoint names asks every member): requests, errors and latency per
operation, the share of reads that saw 1, 2, 3 and 4+ versions (siblings),
resolver calls, rejections by a rate limit or quota, hints, keys repaired and
stored keys and bytes, then each node's figures. Latency quantiles of the
total are the largest node's; stored figures count one replica.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.adminClient().GetNamespaceStats(cmd.Context(), &adminv1.GetNamespaceStatsRequest{Namespace: args[0]})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) { printNamespaceStats(w, args[0], res) })
		},
	}
}

func printNamespaceStats(w io.Writer, name string, res *adminv1.GetNamespaceStatsResponse) {
	t := res.GetTotal()
	nodes := "nodes"
	if len(res.GetNodes()) == 1 {
		nodes = "node"
	}
	fmt.Fprintf(w, "namespace %s: %d %s answered", name, len(res.GetNodes()), nodes)
	if m := res.GetMissing(); len(m) > 0 {
		fmt.Fprintf(w, "; not in the figures: %s", strings.Join(m, ", "))
	}
	fmt.Fprint(w, "\n\n")

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tREQUESTS\tERRORS\tP50\tP99\tP99.9")
	for _, o := range t.GetOperations() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", o.GetOperation(), o.GetRequests(), countsText(o.GetErrors()),
			msText(o.GetP50Ms()), msText(o.GetP99Ms()), msText(o.GetP999Ms()))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	r := t.GetResolver()
	for _, row := range [][2]string{
		{"reads by versions", versionShares(t.GetReadsByVersions())},
		{"resolver", fmt.Sprintf("%d calls, failures: %s, CPU %s, p99 %s, breaker %s",
			r.GetCalls(), countsText(r.GetFailures()), msText(r.GetCpuMs()), msText(r.GetP99Ms()), r.GetBreaker())},
		{"rejections", countsText(t.GetRejections())},
		{"hints", fmt.Sprint(t.GetHints())},
		{"keys repaired", fmt.Sprint(t.GetKeysRepaired())},
		{"stored (one replica)", fmt.Sprintf("%d keys, %d bytes", t.GetStoredKeys(), t.GetStoredBytes())},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREQUESTS\tERRORS\tP99 (WORST OP)\tRESOLVER CALLS\tREJECTIONS\tHINTS\tKEYS REPAIRED\tSTORED KEYS\tSTORED BYTES")
	for _, n := range res.GetNodes() {
		var requests, errors uint64
		var p99 float64
		for _, o := range n.GetOperations() {
			requests += o.GetRequests()
			errors += sumCounts(o.GetErrors())
			p99 = max(p99, o.GetP99Ms())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", n.GetNode(), requests, errors, msText(p99),
			n.GetResolver().GetCalls(), sumCounts(n.GetRejections()), n.GetHints(), n.GetKeysRepaired(), n.GetStoredKeys(), n.GetStoredBytes())
	}
	_ = tw.Flush()
}

// versionShares shows the reads by versions as shares of all reads (the
// Dynamo paper's §6.3 figure), with the counts.
func versionShares(counts []uint64) string {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return "no reads"
	}
	parts := make([]string, len(counts))
	for i, c := range counts {
		label := fmt.Sprint(i + 1)
		if i == len(counts)-1 {
			label += "+"
		}
		parts[i] = fmt.Sprintf("%s: %.2f%% (%d)", label, 100*float64(c)/float64(total), c)
	}
	return strings.Join(parts, "  ")
}

// countsText shows named counts as name=count, or "none".
func countsText(cs []*adminv1.Count) string {
	if len(cs) == 0 {
		return "none"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s=%d", c.GetName(), c.GetCount())
	}
	return strings.Join(parts, " ")
}

func sumCounts(cs []*adminv1.Count) uint64 {
	var n uint64
	for _, c := range cs {
		n += c.GetCount()
	}
	return n
}

// msText shows milliseconds with about three significant digits; "-" for
// nothing measured.
func msText(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
