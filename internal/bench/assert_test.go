package bench_test

import (
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/bench"
)

func TestParseAssert(t *testing.T) {
	t.Parallel()
	rep := &bench.Report{Throughput: 3500, Errors: 2, Latency: []bench.OpLatency{
		{Op: "read", Count: 10, P99: 12, P999: 30},
		{Op: "all", Count: 20, P50: 1, P99: 45, Max: 200},
	}}
	for _, tc := range []struct {
		in       string
		parseErr string // substring of the parse error, "" for none
		failed   []string
	}{
		{in: "p99<40ms,throughput>3000", failed: []string{"p99<40ms (was 45ms)"}},
		{in: "p99<50ms, throughput>=3500", failed: nil},
		{in: "read.p99<=12ms,read.p99.9<1s,max<0.5s", failed: nil},
		{in: "throughput>4000,errors<1", failed: []string{"throughput>4000 (was 3500 ops/s)", "errors<1 (was 2)"}},
		{in: "update.p99<1ms", failed: []string{"update.p99<1ms (not measured)"}},
		{in: "cpu_per_op<500", failed: []string{"cpu_per_op<500 (not measured)"}},
		{in: "", failed: nil},
		{in: "p99", parseErr: "want METRIC<VALUE"},
		{in: "p99<40", parseErr: "takes a duration"},
		{in: "throughput>fast", parseErr: "takes a number"},
		{in: "p42<1ms", parseErr: "unknown metric"},
		{in: "read.throughput>1", parseErr: "operation prefix"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			ts, err := bench.ParseAssert(tc.in)
			if tc.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = bench.Check(rep, ts)
			if len(tc.failed) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check: no error")
			}
			for _, f := range tc.failed {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("Check: %v; want it to name %q", err, f)
				}
			}
		})
	}
}
