package main

import (
	"os"
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/bench"
)

func TestParseCells(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // cell names joined with spaces, or the error's substring
		err  bool
	}{
		{in: defaultCells, want: "C/16 A/16 U/16 A/16@half A/64 C/64"},
		{in: "U:4,u:4@half", want: "U/4 U/4@half"},
		{in: "A:16@half,A:16", want: "needs A:16 before it", err: true},
		{in: "A:16,A:64@half", want: "needs A:64 before it", err: true},
		{in: " a:1 , u:8,", want: "A/1 U/8"},
		{in: "C", want: "want WORKLOAD:CLIENTS", err: true},
		{in: "C:0", want: "want WORKLOAD:CLIENTS", err: true},
		{in: "E:16", want: "unknown workload", err: true},
		{in: ",", want: "at least one cell", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			cells, err := parseCells(tc.in)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range cells {
				names = append(names, c.name())
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Fatalf("cells %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSelectPeers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		peers    string
		baseline bool
		want     string // peer names in round order, or the error's substring
		err      bool
	}{
		{name: "default", peers: strings.Join(defaultPeers(), ","), want: "pebble bare redis etcd concord"},
		{name: "default with --baseline", peers: strings.Join(defaultPeers(), ","), baseline: true, want: "pebble bare redis etcd baseline concord"},
		{name: "any order", peers: "concord,etcd", want: "etcd concord"},
		{name: "baseline added", peers: "concord", baseline: true, want: "baseline concord"},
		{name: "baseline named too", peers: "baseline,concord", baseline: true, want: "baseline concord"},
		{name: "baseline without concord", peers: "etcd", baseline: true, want: "add concord", err: true},
		{name: "unknown", peers: "concord,mysql", want: `unknown peer "mysql"`, err: true},
		{name: "none", peers: "", want: "at least one", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var names []string
			if tc.peers != "" {
				names = strings.Split(tc.peers, ",")
			}
			ps, err := selectPeers(names, tc.baseline)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.name)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("peers %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSummarize: medians over the rounds, failed rounds left out, and
// concord's ratio to each peer, the baseline build included.
func TestSummarize(t *testing.T) {
	t.Parallel()
	cells, err := parseCells("C:16")
	if err != nil {
		t.Fatal(err)
	}
	result := func(round int, peer string, ops, p99 float64, failed string) cellResult {
		r := cellResult{Round: round, Peer: peer, Cell: "C/16", Error: failed, ServerMicrosPerOp: 1e6 / ops}
		r.Report = &bench.Report{Throughput: ops, Latency: []bench.OpLatency{{Op: "read", P99: p99}, {Op: "all", P99: p99}}}
		return r
	}
	sum := summarize(cells, []peer{etcdPeer, baselinePeer, concordPeer}, []cellResult{
		result(1, "etcd", 4000, 10, ""), result(2, "etcd", 6000, 20, ""), result(3, "etcd", 1, 1, "cut off"),
		result(1, "baseline", 1000, 80, ""), result(2, "baseline", 1000, 80, ""),
		result(1, "concord", 1000, 30, ""), result(2, "concord", 3000, 50, ""),
	})
	if len(sum) != 3 {
		t.Fatalf("%d summaries, want 3", len(sum))
	}
	etcd, baseline, concord := sum[0], sum[1], sum[2]
	if etcd.Rounds != 2 || etcd.Throughput != 5000 || etcd.P99 != 15 || len(etcd.Failed) != 1 {
		t.Errorf("etcd: %+v; want 2 rounds, 5000 ops/s, p99 15, one failed", etcd)
	}
	if concord.VsReference != nil {
		t.Errorf("concord compared with itself: %+v", concord.VsReference)
	}
	if r := etcd.VsReference; r == nil || r.Throughput != 2000.0/5000 || r.P99 != 40.0/15 {
		t.Errorf("concord ÷ etcd = %+v; want throughput 0.4, p99 %.3f", r, 40.0/15)
	}
	if r := baseline.VsReference; r == nil || r.Throughput != 2 || r.P99 != 0.5 {
		t.Errorf("concord ÷ baseline = %+v; want throughput 2, p99 0.5", r)
	}

	var table strings.Builder
	writeTable(&table, &runReport{Summary: sum})
	if row := "| YCSB-C (get) × 16 | baseline | 1000 | 0.000 | 80.00 | 0.000 | 1000 | 0 | 0.00 | 0 | 2.00 | 0.50 |"; !strings.Contains(table.String(), row) {
		t.Errorf("table has no row %q with concord ÷ baseline:\n%s", row, table.String())
	}
}

func TestProcessCPU(t *testing.T) {
	t.Parallel()
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := machineBusy(); err != nil {
		t.Fatal(err)
	}
}
