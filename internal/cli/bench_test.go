package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/testcred"
	concord "github.com/concord-kv/concord/sdk/go"
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

	// --cpuprofile writes the load generator's profile (gzipped protobuf).
	prof := filepath.Join(t.TempDir(), "bench.pprof")
	mustRun(t, nil, "", append([]string{"bench", "run", "--operations", "200", "--cpuprofile", prof}, common...)...)
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("--cpuprofile: %d bytes, %v; want a gzipped profile", len(b), err)
	}

	// A threshold no run can meet fails the command, naming it.
	_, err := run(t, nil, "", append([]string{"bench", "run", "--operations", "20", "--assert", "throughput>1e12"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "throughput>1e12") {
		t.Fatalf("--assert: err = %v, want the failed threshold named", err)
	}
}

// TestBenchUpdatesOverwriteOrCarryContexts: with --updates overwrite every
// update replaces what the node holds, so after concurrent clients update
// the same keys each holds one version; with --updates context each
// client's put replaces only what it saw, and keys written by several
// clients keep a sibling per writer.
func TestBenchUpdatesOverwriteOrCarryContexts(t *testing.T) {
	t.Parallel()
	maxSiblings := func(t *testing.T, updates string) int {
		ep := startNode(t)
		common := []string{"--endpoint", ep, "--records", "20", "--value-size", "16", "--clients", "4"}
		mustRun(t, nil, "", append([]string{"bench", "load"}, common...)...)
		out := mustRun(t, nil, "", append([]string{"bench", "run", "-o", "json", "--workload", "U", "--operations", "400", "--updates", updates}, common...)...)
		var rep struct{ Updates string }
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Updates != updates {
			t.Fatalf("report's updates = %q (%v), want %q:\n%s", rep.Updates, err, updates, out)
		}
		c := concord.New(ep, concord.WithToken(testcred.AdminToken), concord.WithNamespace("default"))
		most, keys := 0, 0
		for key, err := range c.Keys(t.Context(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			obj, err := c.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			keys++
			most = max(most, len(obj.Siblings))
		}
		if keys != 20 {
			t.Fatalf("%d keys listed, want the 20 loaded", keys)
		}
		return most
	}
	if got := maxSiblings(t, "overwrite"); got != 1 {
		t.Errorf("--updates overwrite: a key holds %d versions, want 1", got)
	}
	if got := maxSiblings(t, "context"); got < 2 {
		t.Errorf("--updates context: every key holds one version; want siblings where clients wrote a key without seeing each other's writes")
	}
	_, err := run(t, nil, "", "bench", "run", "--operations", "1", "--updates", "blind")
	if err == nil || !strings.Contains(err.Error(), `"overwrite"`) {
		t.Fatalf("--updates blind: err = %v, want the modes named", err)
	}
}
