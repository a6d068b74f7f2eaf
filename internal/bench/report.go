package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// Report is the summary of a run, as printed with -o json. Latencies are
// in milliseconds.
type Report struct {
	Workload     string           `json:"workload"`
	Distribution string           `json:"distribution"`
	Clients      int              `json:"clients"`
	Routing      bool             `json:"routing,omitempty"`     // the clients routed by partition (client-driven coordination)
	Updates      string           `json:"updates,omitempty"`     // how updates were written (UpdateOverwrite or UpdateContext); absent without updates
	TargetRate   float64          `json:"target_rate,omitempty"` // ops/s of an open loop; absent for a closed loop
	Seconds      float64          `json:"seconds"`
	Operations   int64            `json:"operations"` // successful ones
	Errors       int64            `json:"errors"`
	Throughput   float64          `json:"throughput"` // successful operations per second
	Latency      []OpLatency      `json:"latency"`    // per operation, then "all"
	ErrorsByCode map[string]int64 `json:"errors_by_code"`
	CPU          *CPU             `json:"cpu,omitempty"`
}

// OpLatency is the latency of one kind of operation.
type OpLatency struct {
	Op    string  `json:"op"`
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// CPU is the cluster's CPU time over the run, from the nodes'
// process_cpu_seconds_total.
type CPU struct {
	Nodes         int     `json:"nodes"`
	Seconds       float64 `json:"seconds"`
	MicrosPerOp   float64 `json:"us_per_op"`
	UnreadableAny bool    `json:"unreadable_nodes,omitempty"`
}

// Report summarises r; workload and distribution name the load shape.
func (r *Result) Report(workload, distribution string) *Report {
	rep := &Report{Workload: workload, Distribution: distribution, Clients: r.Clients, TargetRate: r.Rate,
		Seconds: r.Elapsed.Seconds(), ErrorsByCode: r.Errors}
	all := newHistogram()
	for _, op := range ycsb.Ops {
		h := r.Hists[op]
		if h == nil || h.count() == 0 {
			continue
		}
		all.merge(h)
		rep.Latency = append(rep.Latency, latencyOf(op.String(), h))
	}
	rep.Latency = append(rep.Latency, latencyOf("all", all))
	rep.Operations = all.count()
	for _, n := range r.Errors {
		rep.Errors += n
	}
	if s := r.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.Operations) / s
	}
	return rep
}

func latencyOf(op string, h *histogram) OpLatency {
	return OpLatency{Op: op, Count: h.count(), P50: ms(h.quantile(50)), P95: ms(h.quantile(95)),
		P99: ms(h.quantile(99)), P999: ms(h.quantile(99.9)), Max: ms(h.max())}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteTable prints the report as tables.
func (rep *Report) WriteTable(w io.Writer) error {
	loop := "closed loop"
	if rep.TargetRate > 0 {
		loop = fmt.Sprintf("open loop at %.0f ops/s", rep.TargetRate)
	}
	if rep.Routing {
		loop += ", routed by partition"
	}
	if rep.Updates != "" {
		loop += ", updates by " + rep.Updates
	}
	fmt.Fprintf(w, "workload %s (%s), %d clients, %s, %.1fs\n", rep.Workload, rep.Distribution, rep.Clients, loop, rep.Seconds)
	fmt.Fprintf(w, "throughput %.0f ops/s, %d operations, %d errors\n\n", rep.Throughput, rep.Operations, rep.Errors)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OP\tCOUNT\tP50 ms\tP95 ms\tP99 ms\tP99.9 ms\tMAX ms\t")
	for _, l := range rep.Latency {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", l.Op, l.Count, l.P50, l.P95, l.P99, l.P999, l.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.ErrorsByCode) > 0 {
		fmt.Fprintln(w, "\nerrors by code:")
		for _, code := range slices.Sorted(maps.Keys(rep.ErrorsByCode)) {
			fmt.Fprintf(w, "  %-20s %d\n", code, rep.ErrorsByCode[code])
		}
	}
	if c := rep.CPU; c != nil {
		note := ""
		if c.UnreadableAny {
			note = " (some nodes' /metrics could not be read: not counted)"
		}
		_, err := fmt.Fprintf(w, "\ncluster CPU: %.2fs over %d nodes, %.0f µs per operation%s\n", c.Seconds, c.Nodes, c.MicrosPerOp, note)
		return err
	}
	return nil
}
