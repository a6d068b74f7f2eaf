package resolvers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
)

// BenchmarkRunaway measures how long a runaway call takes to come back
// under a 20 ms deadline (ns/op is the mean; p50-ms, p99-ms and max-ms the
// distribution): a loop (hostile.wat L), unbounded recursion (hostile.wat
// S, stopped by the stack budget), tree recursion without a loop
// (runaway.wat R). Each call fails and discards its instance; the next call
// starts a new one, outside the timing.
func BenchmarkRunaway(b *testing.B) {
	for _, bm := range []struct{ name, module, cmd string }{
		{"loop", "hostile", "L"},
		{"recursion", "hostile", "S"},
		{"tree_recursion", "runaway", "R"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			ctx := context.Background()
			m, err := shared.Compile(ctx, wasmOf(b, bm.module))
			if err != nil {
				b.Fatal(err)
			}
			p := resolvers.NewPool(m, "ns", nil, resolvers.Limits{Deadline: 20 * time.Millisecond, MemoryPages: 16, MaxInstances: 1},
				resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
			defer p.Close(ctx)
			var took []time.Duration
			for b.Loop() {
				b.StopTimer()
				mustResolve(b, p, values("warm"))
				b.StartTimer()
				start := time.Now()
				if _, err := p.Resolve(ctx, values(bm.cmd)); err == nil {
					b.Fatal("the runaway call succeeded")
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			ms := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}
