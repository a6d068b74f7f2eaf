package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/concord-kv/concord/internal/bench"
)

// runReport is everything a run measured, as written to the JSON file.
type runReport struct {
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Command  []string      `json:"command"`
	Machine  machine       `json:"machine"`
	Settings settings      `json:"settings"`
	Peers    []peerInfo    `json:"peers"`
	Loads    []cellResult  `json:"loads"` // one per peer and round
	Cells    []cellResult  `json:"cells"` // every measured cell of every round
	Summary  []cellSummary `json:"summary"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel"`
	LoadAvg   string `json:"loadavg_at_start"`
	GoVersion string `json:"go_version"`
	// Commit is the repository's HEAD where the run started, "+dirty" with
	// uncommitted changes to tracked files.
	Commit string `json:"commit"`
}

type settings struct {
	Records      int64    `json:"records"`
	ValueSize    int      `json:"value_size"`
	Distribution string   `json:"distribution"`
	Cells        []string `json:"cells"`
	Rounds       int      `json:"rounds"`
	Duration     string   `json:"duration_per_cell"`
	Warmup       string   `json:"warmup_per_cell"`
	LoadClients  int      `json:"load_clients"`
	Seed         uint64   `json:"seed"`
	Updates      string   `json:"updates"` // how concord's clients wrote updates (bench.UpdateOverwrite or bench.UpdateContext)
}

type peerInfo struct {
	Name     string            `json:"name"`
	About    string            `json:"about"`
	Versions map[string]string `json:"versions,omitempty"`
}

// notePeer records p's description and versions once.
func (r *runReport) notePeer(p peer, inst instance) {
	if slices.ContainsFunc(r.Peers, func(i peerInfo) bool { return i.Name == p.name }) {
		return
	}
	r.Peers = append(r.Peers, peerInfo{Name: p.name, About: p.about, Versions: inst.versions()})
}

// cellResult is one cell of one round of one peer.
type cellResult struct {
	Round    int           `json:"round"`
	Peer     string        `json:"peer"`
	Cell     string        `json:"cell"`
	Workload string        `json:"workload"`
	Clients  int           `json:"clients"`
	Report   *bench.Report `json:"report,omitempty"`
	// ServerProcesses is how many server processes the CPU was read from;
	// 0 for a peer in this process, whose server CPU is then this whole
	// process's, load generator included.
	ServerProcesses   int     `json:"server_processes"`
	ServerCPUSeconds  float64 `json:"server_cpu_seconds"`
	ServerMicrosPerOp float64 `json:"server_us_per_op"`
	ClientCPUSeconds  float64 `json:"client_cpu_seconds"`
	ClientMicrosPerOp float64 `json:"client_us_per_op"`
	// OtherCores is the CPU the rest of the machine used meanwhile (every
	// process but the servers and this one), in cores: load from outside
	// the benchmark that perturbs it.
	OtherCores float64 `json:"other_cores"`
	Error      string  `json:"error,omitempty"`
}

func (r *cellResult) setCPU(before, after cpuSample) {
	secs := after.at.Sub(before.at).Seconds()
	client := (after.self - before.self).Seconds()
	server := (after.servers - before.servers).Seconds()
	if r.ServerProcesses == 0 {
		server = client
	}
	other := (after.machine - before.machine).Seconds() - client
	if r.ServerProcesses > 0 {
		other -= server
	}
	r.ServerCPUSeconds, r.ClientCPUSeconds = server, client
	if secs > 0 {
		r.OtherCores = max(0, other/secs)
	}
	if ops := r.Report.Operations + r.Report.Errors; ops > 0 {
		r.ServerMicrosPerOp = server * 1e6 / float64(ops)
		r.ClientMicrosPerOp = client * 1e6 / float64(ops)
	}
}

// all is the latency over every operation of the cell.
func (r *cellResult) all() bench.OpLatency {
	if r.Report == nil || len(r.Report.Latency) == 0 {
		return bench.OpLatency{}
	}
	return r.Report.Latency[len(r.Report.Latency)-1] // "all" comes last
}

// problem says what went wrong in the cell.
func (r *cellResult) problem() string {
	if r.Error != "" {
		return r.Error
	}
	if r.Report != nil && r.Report.Errors > 0 {
		return fmt.Sprintf("%d errors %v", r.Report.Errors, r.Report.ErrorsByCode)
	}
	return "none"
}

// line is the progress line of a finished cell.
func (r *cellResult) line() string {
	head := fmt.Sprintf("round %d  %-8s %-7s", r.Round, r.Peer, r.Cell)
	if r.Report == nil {
		return head + "  failed: " + r.Error
	}
	l := r.all()
	s := fmt.Sprintf("%s %9.0f ops/s  p50 %7sms  p99 %7sms  p99.9 %7sms  server %6.0fµs/op  client %5.0fµs/op  other load %.2f cores",
		head, r.Report.Throughput, millis(l.P50), millis(l.P99), millis(l.P999), r.ServerMicrosPerOp, r.ClientMicrosPerOp, r.OtherCores)
	if r.Report.Errors > 0 || r.Error != "" {
		s += "  PROBLEM: " + r.problem()
	}
	return s
}

// cellSummary is the median over the rounds of one peer's cell. Cells that
// failed (an error other than failed operations) are left out of the
// medians and listed in Failed.
type cellSummary struct {
	Cell              string   `json:"cell"`
	Label             string   `json:"label"`
	Peer              string   `json:"peer"`
	Rounds            int      `json:"rounds"` // that the medians are over
	Throughput        float64  `json:"throughput"`
	P50               float64  `json:"p50_ms"`
	P99               float64  `json:"p99_ms"`
	P999              float64  `json:"p99_9_ms"`
	ServerMicrosPerOp float64  `json:"server_us_per_op"`
	ClientMicrosPerOp float64  `json:"client_us_per_op"`
	OtherCores        float64  `json:"other_cores"`
	Errors            int64    `json:"errors"` // failed operations, summed over the rounds
	Failed            []string `json:"failed,omitempty"`
	// VsReference is concord's value divided by this peer's, per metric
	// (absent for concord itself or when either is missing).
	VsReference *ratios `json:"concord_over_peer,omitempty"`
}

// ratios are concord ÷ peer: below 1 for throughput, or above 1 for
// latency and CPU, concord does worse.
type ratios struct {
	Throughput        float64 `json:"throughput"`
	P50               float64 `json:"p50"`
	P99               float64 `json:"p99"`
	P999              float64 `json:"p99_9"`
	ServerMicrosPerOp float64 `json:"server_us_per_op"`
}

// summarize takes the median of every metric over the rounds, per cell and
// peer, in cell and peer order.
func summarize(cells []cell, ps []peer, results []cellResult) []cellSummary {
	var out []cellSummary
	for _, c := range cells {
		var ref *cellSummary
		first := len(out)
		for _, p := range ps {
			s := cellSummary{Cell: c.name(), Label: c.label(), Peer: p.name}
			var rs []cellResult
			for _, r := range results {
				if r.Cell != s.Cell || r.Peer != p.name {
					continue
				}
				if r.Report != nil {
					s.Errors += r.Report.Errors
				}
				if r.Error != "" || r.Report == nil {
					s.Failed = append(s.Failed, fmt.Sprintf("round %d: %s", r.Round, r.Error))
					continue
				}
				rs = append(rs, r)
			}
			s.Rounds = len(rs)
			if len(rs) > 0 {
				med := func(f func(cellResult) float64) float64 { return median(rs, f) }
				s.Throughput = med(func(r cellResult) float64 { return r.Report.Throughput })
				s.P50 = med(func(r cellResult) float64 { return r.all().P50 })
				s.P99 = med(func(r cellResult) float64 { return r.all().P99 })
				s.P999 = med(func(r cellResult) float64 { return r.all().P999 })
				s.ServerMicrosPerOp = med(func(r cellResult) float64 { return r.ServerMicrosPerOp })
				s.ClientMicrosPerOp = med(func(r cellResult) float64 { return r.ClientMicrosPerOp })
				s.OtherCores = med(func(r cellResult) float64 { return r.OtherCores })
			}
			out = append(out, s)
		}
		for i := first; i < len(out); i++ {
			if out[i].Peer == reference && out[i].Rounds > 0 {
				ref = &out[i]
			}
		}
		for i := first; i < len(out) && ref != nil; i++ {
			if s := &out[i]; s.Peer != reference && s.Rounds > 0 {
				s.VsReference = &ratios{
					Throughput: div(ref.Throughput, s.Throughput), P50: div(ref.P50, s.P50), P99: div(ref.P99, s.P99),
					P999: div(ref.P999, s.P999), ServerMicrosPerOp: div(ref.ServerMicrosPerOp, s.ServerMicrosPerOp),
				}
			}
		}
	}
	return out
}

// median is the median of f over rs (the mean of the middle two for an
// even count).
func median(rs []cellResult, f func(cellResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// writeTable prints the summary as a Markdown table, a row per cell and
// peer, with concord's ratio to each peer.
func writeTable(w io.Writer, rep *runReport) {
	fmt.Fprintf(w, "Median of %d rounds; %d records of %d bytes, %s keys, closed loop, %s per cell after %s of warm-up; concord's updates by %s.\n",
		rep.Settings.Rounds, rep.Settings.Records, rep.Settings.ValueSize, rep.Settings.Distribution, rep.Settings.Duration, rep.Settings.Warmup, rep.Settings.Updates)
	fmt.Fprintln(w, "Latencies over all operations of the cell; CPU per operation summed over the peer's server processes")
	fmt.Fprintln(w, "(pebble: this whole process, load generator included). concord ÷ peer: below 1 for ops/s,")
	fmt.Fprintln(w, "above 1 for p99 and CPU, concord does worse. Other load: CPU the rest of the machine used meanwhile.")
	m := rep.Machine
	fmt.Fprintf(w, "%s, %d CPUs, kernel %s, %s, commit %s.\n", rep.Started.Format(time.DateOnly), m.CPUs, m.Kernel, m.GoVersion, m.Commit)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| cell | peer | ops/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/op | client CPU µs/op | other load (cores) | failed ops | concord ÷ peer: ops/s | p99 | CPU/op |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range rep.Summary {
		if s.Rounds == 0 {
			fmt.Fprintf(w, "| %s | %s | failed: %s ||||||||||\n", s.Label, s.Peer, cmp.Or(strings.Join(s.Failed, "; "), "not run"))
			continue
		}
		vs := "— | — | —"
		if r := s.VsReference; r != nil {
			vs = ratio(r.Throughput) + " | " + ratio(r.P99) + " | " + ratio(r.ServerMicrosPerOp)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %.0f | %.0f | %.2f | %d | %s |\n",
			s.Label, s.Peer, s.Throughput, millis(s.P50), millis(s.P99), millis(s.P999), s.ServerMicrosPerOp, s.ClientMicrosPerOp, s.OtherCores, s.Errors, vs)
	}
	for _, s := range rep.Summary {
		if len(s.Failed) > 0 && s.Rounds > 0 {
			fmt.Fprintf(w, "\n%s, %s: left out of the medians: %s\n", s.Label, s.Peer, strings.Join(s.Failed, "; "))
		}
	}
	fmt.Fprintln(w)
	for _, p := range rep.Peers {
		vs := slices.Sorted(maps.Values(p.Versions))
		version := ""
		if len(vs) > 0 {
			version = " (" + strings.Join(vs, ", ") + ")"
		}
		fmt.Fprintf(w, "- **%s**%s: %s\n", p.Name, version, p.About)
	}
}

// millis formats a latency in milliseconds: to the microsecond below
// 0.1 ms (an in-process Pebble get), else to 10 µs.
func millis(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// ratio formats a ratio with two or three significant digits.
func ratio(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// writeJSON writes rep to path.
func writeJSON(path string, rep *runReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
