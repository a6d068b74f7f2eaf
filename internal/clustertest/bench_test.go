package clustertest_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// latencies collects per-operation latencies and reports percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkCluster3Put: N=3, W=2 writes of 100-byte values through all three
// nodes of an in-process cluster on Pebble (synced), Connect over loopback.
func BenchmarkCluster3Put(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{})
	value := make([]byte, 100)
	var seq atomic.Int64
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			start := time.Now()
			_, err := c.Nodes[i%3].KV().Put(b.Context(), &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%09d", i), Value: value})
			if err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(start))
		}
	})
	lat.report(b)
}

// BenchmarkCluster3Get: R=2 reads of preloaded keys through all three nodes.
func BenchmarkCluster3Get(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{})
	const preload = 512
	for i := range preload {
		if _, err := c.Nodes[0].KV().Put(b.Context(), &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%09d", i), Value: make([]byte, 100), W: 3}); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			start := time.Now()
			res, err := c.Nodes[i%3].KV().Get(b.Context(), &kvv1.GetRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%09d", i%preload)})
			if err != nil || !res.GetFound() {
				b.Errorf("get: %v", err)
				return
			}
			lat.add(time.Since(start))
		}
	})
	lat.report(b)
}

// BenchmarkHintDrain measures how long 1,000 hints take to reach a node
// after it comes back (ms per drain).
func BenchmarkHintDrain(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{HintInterval: 50 * time.Millisecond})
	for round := range b.N {
		c.Nodes[2].Kill()
		for i := range 1000 {
			if _, err := c.Nodes[i%2].KV().Put(b.Context(), &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "r%d-%05d", round, i), Value: make([]byte, 100)}); err != nil {
				b.Fatal(err)
			}
		}
		c.Nodes[2].Restart()
		start := time.Now()
		c.Eventually(func() bool {
			return c.Nodes[0].Node().Stats().HintBacklog == 0 && c.Nodes[1].Node().Stats().HintBacklog == 0
		}, "hints drained")
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "drain-ms")
	}
}

// BenchmarkAAEConvergence measures how long anti-entropy alone takes to
// converge 1,000 keys written on one side of a 2|1 partition (ms).
func BenchmarkAAEConvergence(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{HintInterval: time.Hour})
	for round := range b.N {
		c.Partition([]int{0, 1}, []int{2})
		for i := range 1000 {
			if _, err := c.Nodes[i%2].KV().Put(b.Context(), &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "a%d-%05d", round, i), Value: make([]byte, 100)}); err != nil {
				b.Fatal(err)
			}
		}
		c.Heal()
		start := time.Now()
		c.Eventually(func() bool {
			for i := range 1000 {
				o, _ := c.Nodes[2].Node().ReadLocal(b.Context(), "default", fmt.Appendf(nil, "a%d-%05d", round, i))
				if o.IsZero() {
					return false
				}
			}
			return true
		}, "anti-entropy converged")
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "converge-ms")
	}
}
