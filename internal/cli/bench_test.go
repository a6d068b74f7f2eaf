package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchLoadAndRun is the CI smoke step of the bench: a load and a
// two-second run against an in-process node with authentication, checking
// that the JSON report parses and counts operations (never the speed).
func TestBenchLoadAndRun(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	common := []string{"--endpoint", ep, "--records", "200", "--value-size", "64", "--clients", "4"}
	mustRun(t, nil, "", append([]string{"bench", "load", "-o", "json"}, common...)...)

	for _, args := range [][]string{
		{"--workload", "A", "--duration", "2s"},
		{"--workload", "F", "--operations", "200", "--rate", "500"},
		{"--workload", "D", "--operations", "200", "--distribution", "latest"},
		{"--workload", "A", "--operations", "200", "--routing"},
	} {
		out := mustRun(t, nil, "", append(append([]string{"bench", "run", "-o", "json"}, common...), args...)...)
		var rep struct {
			Operations int64 `json:"operations"`
			Throughput float64
			Latency    []struct {
				Op    string
				Count int64
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: report is not JSON: %v\n%s", args, err, out)
		}
		if rep.Operations <= 0 || len(rep.Latency) == 0 || rep.Latency[len(rep.Latency)-1].Op != "all" {
			t.Fatalf("%v: report without operations:\n%s", args, out)
		}
	}

	// A threshold no run can meet fails the command, naming it.
	_, err := run(t, nil, "", append([]string{"bench", "run", "--operations", "20", "--assert", "throughput>1e12"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "throughput>1e12") {
		t.Fatalf("--assert: err = %v, want the failed threshold named", err)
	}
}
