package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/handoff"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

type clusterStatusFlags struct {
	watch bool
}

type clusterPlanFlags struct {
	all bool
}

func newClusterCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster and change its ring: stage, plan, commit, watch",
		Long: `Show the cluster's members, ring and handoffs, and change who owns
partitions. Changes are staged first (join, leave), reviewed (plan) and then
applied together (commit), which starts moving partitions; follow the moves
with 'status --watch'. The cluster-wide caps and background rates are
under 'settings'. Any node's API endpoint will do.`,
	}
	cmd.AddCommand(
		newClusterStatusCmd(g),
		newClusterStageCmd(g, "join", "Stage giving a node (already in gossip) a share of the ring",
			func(ctx context.Context, c adminv1connect.AdminServiceClient, node string) (stagedResponse, error) {
				return c.StageJoin(ctx, &adminv1.StageJoinRequest{Node: node})
			}),
		newClusterStageCmd(g, "leave", "Stage handing a node's partitions to the others",
			func(ctx context.Context, c adminv1connect.AdminServiceClient, node string) (stagedResponse, error) {
				return c.StageLeave(ctx, &adminv1.StageLeaveRequest{Node: node})
			}),
		newClusterPlanCmd(g),
		newClusterCommitCmd(g),
		newClusterClearCmd(g),
		newClusterSettingsCmd(g),
	)
	return cmd
}

func newClusterStatusCmd(g *globalFlags) *cobra.Command {
	f := &clusterStatusFlags{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the ring, the members, staged changes and handoffs",
		Long: `Show the ring epoch, the members, the staged changes and the partition
handoffs in progress.

With --watch, follow the handoffs of the current ring change until they are
complete: one progress bar per receiving node and one for the total on a
terminal, a line per update otherwise, and one JSON object per update with
-o json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if f.watch && g.output == "json" {
				return watchHandoff(cmd.Context(), g, out)
			}
			res, err := g.adminClient().ClusterStatus(cmd.Context(), &adminv1.ClusterStatusRequest{})
			if err != nil {
				return rpcError(err)
			}
			if err := g.printOutput(out, res, func(w io.Writer) { printClusterStatus(w, res) }); err != nil {
				return err
			}
			if !f.watch {
				return nil
			}
			fmt.Fprintln(out)
			return watchHandoff(cmd.Context(), g, out)
		},
	}
	cmd.Flags().BoolVarP(&f.watch, "watch", "w", false, "follow the handoffs in progress until they are complete")
	return cmd
}

// stagedResponse is what StageJoin and StageLeave answer.
type stagedResponse interface {
	proto.Message
	GetStaged() []*adminv1.StagedChange
}

// newClusterStageCmd builds join and leave, which differ only in the RPC.
func newClusterStageCmd(g *globalFlags, verb, short string, stage func(context.Context, adminv1connect.AdminServiceClient, string) (stagedResponse, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NODE",
		Short: short,
		Long: short + `. NODE is a node's ID, or its API or peer address.
Nothing moves until 'concord cluster commit'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := stage(cmd.Context(), g.adminClient(), args[0])
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				printStaged(w, res.GetStaged())
				fmt.Fprintln(w, "Review with 'concord cluster plan', apply with 'concord cluster commit'.")
			})
		},
	}
}

func newClusterPlanCmd(g *globalFlags) *cobra.Command {
	f := &clusterPlanFlags{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what committing the staged changes would move",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := g.adminClient()
			res, err := c.PlanChanges(cmd.Context(), &adminv1.PlanChangesRequest{})
			if err != nil {
				return rpcError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), res)
			}
			status, err := c.ClusterStatus(cmd.Context(), &adminv1.ClusterStatusRequest{})
			if err != nil {
				return rpcError(err)
			}
			printPlan(cmd.OutOrStdout(), res, status, f.all)
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.all, "all", false, "list every transfer instead of a summary per pair of nodes")
	return cmd
}

func newClusterCommitCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "commit",
		Short: "Apply the staged changes: a new ring epoch, and partitions start moving",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.adminClient().CommitChanges(cmd.Context(), &adminv1.CommitChangesRequest{})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				n := len(res.GetTransfers())
				if n == 0 {
					fmt.Fprintf(w, "Committed ring epoch %d: no partition moves.\n", res.GetRingEpoch())
					return
				}
				fmt.Fprintf(w, "Committed ring epoch %d: %d partition transfers started.\n", res.GetRingEpoch(), n)
				fmt.Fprintf(w, "Follow them with: concord cluster status --watch --endpoint %s\n", g.endpoint)
			})
		},
	}
}

func newClusterClearCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "clear",
		Short: "Drop the staged changes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.adminClient().ClearChanges(cmd.Context(), &adminv1.ClearChangesRequest{})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintln(w, "Staged changes cleared.")
			})
		},
	}
}

func printClusterStatus(w io.Writer, res *adminv1.ClusterStatusResponse) {
	fmt.Fprintf(w, "Ring epoch %d, %d partitions\n\n", res.GetRingEpoch(), res.GetPartitions())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tZONE\tAPI\tPEER\tPARTITIONS\tIN RING")
	for _, m := range res.GetMembers() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", m.GetId(), memberStateName(m.GetState()), dash(m.GetZone()),
			dash(m.GetApiAddr()), dash(m.GetPeerAddr()), m.GetPartitions(), yesNo(m.GetInRing()))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	printStaged(w, res.GetStaged())
	fmt.Fprintln(w)
	views, total := summarizeHandoffs(res.GetHandoffs(), nil)
	if total.Total == 0 || total.Done == total.Total {
		fmt.Fprintln(w, "Handoffs: none in progress")
		return
	}
	fmt.Fprintf(w, "Handoffs in progress: %s\n", total)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVER\tPARTITIONS\tKEYS\tBYTES\tRATE\tETA")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%s\t%s\t%s\n", v.name, v.Done, v.Total, v.Keys, formatBytes(v.Bytes), v.rateText(), v.etaText())
	}
	_ = tw.Flush()
}

func printStaged(w io.Writer, staged []*adminv1.StagedChange) {
	if len(staged) == 0 {
		fmt.Fprintln(w, "Staged changes: none")
		return
	}
	fmt.Fprintln(w, "Staged changes:")
	for _, c := range staged {
		fmt.Fprintf(w, "  %-5s  %s\n", changeKindName(c.GetKind()), c.GetNodeId())
	}
}

// compactTransfers is how many partitions a summary line of plan names.
const compactTransfers = 8

func printPlan(w io.Writer, res *adminv1.PlanChangesResponse, status *adminv1.ClusterStatusResponse, all bool) {
	printStaged(w, res.GetStaged())
	fmt.Fprintf(w, "\nCommitting makes ring epoch %d and starts %d partition transfers.\n\n", res.GetNextEpoch(), len(res.GetTransfers()))

	now := map[string]uint32{}
	for _, m := range status.GetMembers() {
		if m.GetInRing() {
			now[m.GetId()] = m.GetPartitions()
		}
	}
	after := res.GetPartitionsAfter()
	nodes := slices.Sorted(maps.Keys(now))
	for id := range after {
		if _, ok := now[id]; !ok {
			nodes = append(nodes, id)
		}
	}
	slices.Sort(nodes)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPARTITIONS NOW\tAFTER")
	for _, id := range nodes {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", id, now[id], after[id])
	}
	_ = tw.Flush()

	if len(res.GetTransfers()) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if all {
		fmt.Fprintln(tw, "PARTITION\tFROM\tTO")
		for _, t := range res.GetTransfers() {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", t.GetPartition(), t.GetFrom(), t.GetTo())
		}
		_ = tw.Flush()
		return
	}
	pairs := map[[2]string][]uint32{}
	for _, t := range res.GetTransfers() {
		k := [2]string{t.GetFrom(), t.GetTo()}
		pairs[k] = append(pairs[k], t.GetPartition())
	}
	fmt.Fprintln(tw, "FROM\tTO\tCOUNT\tPARTITIONS")
	for _, k := range slices.SortedFunc(maps.Keys(pairs), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	}) {
		ps := pairs[k]
		names := make([]string, 0, compactTransfers+1)
		for _, p := range ps[:min(len(ps), compactTransfers)] {
			names = append(names, fmt.Sprint(p))
		}
		if len(ps) > compactTransfers {
			names = append(names, fmt.Sprintf("… (+%d)", len(ps)-compactTransfers))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", k[0], k[1], len(ps), strings.Join(names, " "))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "List every transfer with --all.")
}

// watchHandoff follows WatchHandoff until the server says the handoffs are
// complete, rendering them as progress bars on a terminal, as plain lines
// elsewhere, and as JSON lines with -o json.
func watchHandoff(ctx context.Context, g *globalFlags, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.adminClient().WatchHandoff(ctx, &adminv1.WatchHandoffRequest{})
	if err != nil {
		return rpcError(err)
	}
	defer stream.Close()
	tr := &handoffTracker{}
	var r handoffRenderer
	for stream.Receive() {
		msg := stream.Msg()
		if g.output == "json" {
			if err := printJSONLine(out, msg); err != nil {
				return err
			}
			if msg.GetComplete() {
				return nil
			}
			continue
		}
		views, total := tr.update(msg.GetHandoffs(), time.Now())
		tty := isTerminal(out)
		if r == nil && total.Total > 0 && (!tty || !msg.GetComplete()) {
			if tty {
				r = newBarRenderer(ctx, out, views)
			} else {
				r = &lineRenderer{w: out}
			}
		}
		if msg.GetComplete() {
			if r != nil {
				r.finish(msg.GetRingEpoch(), views, total)
			}
			printHandoffDone(out, msg.GetRingEpoch(), views, total, tr.elapsed())
			return nil
		}
		if r != nil { // incomplete implies a transfer, but do not trust it
			r.update(msg.GetRingEpoch(), views, total)
		}
	}
	if r != nil {
		r.abort()
	}
	if err := stream.Err(); err != nil && !errors.Is(err, context.Canceled) && connect.CodeOf(err) != connect.CodeCanceled {
		return rpcError(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("the server ended the handoff watch before the transfers completed; run 'concord cluster status --watch' again")
}

// printHandoffDone sums up a completed handoff: in total, then per receiver.
func printHandoffDone(w io.Writer, epoch uint64, views []handoffView, total handoffView, took time.Duration) {
	if total.Total == 0 {
		fmt.Fprintf(w, "No handoff in progress (ring epoch %d).\n", epoch)
		return
	}
	fmt.Fprintf(w, "Handoff of ring epoch %d complete: %d partitions, %d keys, %s", epoch, total.Total, total.Keys, formatBytes(total.Bytes))
	if took > 0 {
		fmt.Fprintf(w, " (watched for %s)", took.Round(time.Second))
	}
	fmt.Fprintln(w, ".")
	for _, v := range views {
		fmt.Fprintf(w, "  %s received %d partitions, %d keys, %s\n", v.name, v.Total, v.Keys, formatBytes(v.Bytes))
	}
}

func printJSONLine(w io.Writer, msg proto.Message) error {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// handoffView is the progress of a set of transfers, added up by
// handoff.Summarize: those of one receiving node, or all of them.
type handoffView struct {
	name string
	handoff.Summary
}

// String is the plain one-line form, e.g.
// "12/40 partitions, 3100 keys, 3.1 MB, 1.2 MB/s, ETA 20s".
func (v handoffView) String() string {
	return fmt.Sprintf("%d/%d partitions, %s", v.Done, v.Total, v.detail())
}

// detail is the part of the line after the partition counts.
func (v handoffView) detail() string {
	return fmt.Sprintf("%d keys, %s, %s, ETA %s", v.Keys, formatBytes(v.Bytes), v.rateText(), v.etaText())
}

func (v handoffView) rateText() string {
	if v.Rate <= 0 {
		return "- B/s"
	}
	return formatBytes(uint64(v.Rate)) + "/s"
}

func (v handoffView) etaText() string {
	switch {
	case v.Done == v.Total:
		return "done"
	case v.ETA < 0:
		return "?"
	}
	return v.ETA.Round(time.Second).String()
}

// formatBytes writes a byte count with a decimal unit: "512 B", "3.1 MB".
func formatBytes(b uint64) string {
	if b < 1000 {
		return fmt.Sprintf("%d B", b)
	}
	v := float64(b)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 999.95 {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return fmt.Sprintf("%.1f PB", v/1000)
}

// summarizeHandoffs adds up transfers per receiving node (sorted by ID) and
// in total (handoff.Summarize). rates gives bytes per second by receiver
// ("" for the total); missing ones fall back to the rates the server
// reported.
func summarizeHandoffs(hs []*adminv1.HandoffProgress, rates map[string]float64) ([]handoffView, handoffView) {
	per, total := handoff.Summarize(progressFromProto(hs), rates)
	views := make([]handoffView, 0, len(per))
	for _, s := range per {
		views = append(views, handoffView{name: s.Receiver, Summary: s})
	}
	return views, handoffView{name: "total", Summary: total}
}

func progressFromProto(hs []*adminv1.HandoffProgress) []handoff.Progress {
	out := make([]handoff.Progress, 0, len(hs))
	for _, h := range hs {
		out = append(out, handoff.Progress{
			Partition: int(h.GetPartition()), From: h.GetFrom(), To: h.GetTo(), Keys: h.GetKeys(), Bytes: h.GetBytes(),
			RemainingBytes: h.GetRemainingBytes(), Rate: h.GetRate(), Done: h.GetDone(),
		})
	}
	return out
}

// handoffTracker turns successive WatchHandoff messages into views, with
// rates measured from the growth of the bytes between messages.
type handoffTracker struct{ meter handoff.RateMeter }

func (t *handoffTracker) update(hs []*adminv1.HandoffProgress, now time.Time) ([]handoffView, handoffView) {
	return summarizeHandoffs(hs, t.meter.Observe(progressFromProto(hs), now))
}

func (t *handoffTracker) elapsed() time.Duration { return t.meter.Elapsed() }

// handoffRenderer shows handoff progress while it runs.
type handoffRenderer interface {
	update(epoch uint64, views []handoffView, total handoffView)
	finish(epoch uint64, views []handoffView, total handoffView)
	abort()
}

// lineRenderer prints one line per update, for output that is not a
// terminal: "epoch 5: 12/40 partitions, 3100 keys, 3.1 MB, 1.2 MB/s, ETA 20s".
type lineRenderer struct{ w io.Writer }

func (r *lineRenderer) update(epoch uint64, _ []handoffView, total handoffView) {
	fmt.Fprintf(r.w, "epoch %d: %s\n", epoch, total)
}

func (r *lineRenderer) finish(epoch uint64, views []handoffView, total handoffView) {
	r.update(epoch, views, total)
}

func (r *lineRenderer) abort() {}

// barRenderer draws a progress bar (in partitions) per receiving node and
// one for the total, with keys, bytes, rate and ETA beside each.
type barRenderer struct {
	p     *mpb.Progress
	mu    sync.Mutex // guards views, read by the bars' decorators
	views map[string]handoffView
	bars  map[string]*mpb.Bar
	order []string // receivers, then "" for the total
}

func newBarRenderer(ctx context.Context, w io.Writer, views []handoffView) *barRenderer {
	r := &barRenderer{
		p:     mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond)),
		views: map[string]handoffView{},
		bars:  map[string]*mpb.Bar{},
	}
	for _, v := range views {
		r.addBar(v.name, v.name, v.Total)
	}
	return r
}

func (r *barRenderer) addBar(key, label string, total int) {
	detail := func(decor.Statistics) string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.views[key].detail()
	}
	r.bars[key] = r.p.AddBar(int64(total),
		mpb.BarPriority(len(r.order)),
		mpb.PrependDecorators(
			decor.Name(label, decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d/%d partitions", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(decor.Any(detail, decor.WCSyncSpace)),
	)
	r.order = append(r.order, key)
}

func (r *barRenderer) update(_ uint64, views []handoffView, total handoffView) {
	r.mu.Lock()
	for _, v := range views {
		r.views[v.name] = v
	}
	r.views[""] = total
	r.mu.Unlock()
	for _, v := range views {
		if _, ok := r.bars[v.name]; !ok {
			// A receiver that was not in the first message; keep the total last.
			if tb, ok := r.bars[""]; ok {
				tb.SetPriority(len(r.order) + 1)
			}
			r.addBar(v.name, v.name, v.Total)
		}
	}
	if _, ok := r.bars[""]; !ok {
		r.addBar("", "total", total.Total)
	}
	for _, v := range views {
		r.setBar(v.name, v)
	}
	r.setBar("", total)
}

func (r *barRenderer) setBar(key string, v handoffView) {
	b := r.bars[key]
	b.SetTotal(int64(v.Total), false)
	b.SetCurrent(int64(v.Done))
}

func (r *barRenderer) finish(epoch uint64, views []handoffView, total handoffView) {
	r.update(epoch, views, total)
	for _, b := range r.bars {
		b.SetTotal(-1, true)
	}
	r.p.Wait()
}

func (r *barRenderer) abort() {
	for _, b := range r.bars {
		b.Abort(false)
	}
	r.p.Wait()
}

// isTerminal reports whether w is a terminal, where progress bars can redraw.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func memberStateName(s adminv1.MemberState) string {
	switch s {
	case adminv1.MemberState_MEMBER_STATE_ALIVE:
		return "alive"
	case adminv1.MemberState_MEMBER_STATE_SUSPECT:
		return "suspect"
	case adminv1.MemberState_MEMBER_STATE_DEAD:
		return "dead"
	case adminv1.MemberState_MEMBER_STATE_LEFT:
		return "left"
	}
	return "unknown"
}

func changeKindName(k adminv1.StagedChange_Kind) string {
	switch k {
	case adminv1.StagedChange_KIND_JOIN:
		return "join"
	case adminv1.StagedChange_KIND_LEAVE:
		return "leave"
	}
	return "?"
}

func dash(s string) string { return cmp.Or(s, "-") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
