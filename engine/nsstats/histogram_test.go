package nsstats_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/nsstats"
)

// TestQuantileWithinABucket: whatever the durations, a quantile is within
// a bucket's width (12.5%, or 1 µs below 8 µs) of the true one, and the
// count and sum are exact.
func TestQuantileWithinABucket(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		us := rapid.SliceOfN(rapid.Int64Range(1, 1<<27), 1, 300).Draw(t, "µs")
		var h nsstats.Histogram
		var sum time.Duration
		for _, v := range us {
			h.Observe(time.Duration(v) * time.Microsecond)
			sum += time.Duration(v) * time.Microsecond
		}
		b := h.Snapshot()
		if b.Count() != uint64(len(us)) || b.Sum != sum {
			t.Fatalf("count %d, sum %v; want %d, %v", b.Count(), b.Sum, len(us), sum)
		}
		sorted := slices.Sorted(slices.Values(us))
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
			rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
			want := float64(sorted[rank-1])
			got := float64(b.Quantile(q)) / float64(time.Microsecond)
			if tolerance := max(want/8, 1); math.Abs(got-want) > tolerance {
				t.Fatalf("q%v = %.1f µs, want %.0f µs ± %.1f", q, got, want, tolerance)
			}
		}
	})
}

// TestCumulativeIsExactAtPowersOfTwo: the cumulative count at a power of
// two microseconds is the number of durations at most that long, as a
// Prometheus bucket counts them.
func TestCumulativeIsExactAtPowersOfTwo(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		us := rapid.SliceOfN(rapid.Int64Range(1, 1<<27), 0, 300).Draw(t, "µs")
		var h nsstats.Histogram
		for _, v := range us {
			h.Observe(time.Duration(v) * time.Microsecond)
		}
		var bounds []time.Duration
		for k := 1; k <= 28; k++ {
			bounds = append(bounds, time.Duration(1<<k)*time.Microsecond)
		}
		got := h.Snapshot().Cumulative(bounds)
		for i, bound := range bounds {
			var want uint64
			for _, v := range us {
				if time.Duration(v)*time.Microsecond <= bound {
					want++
				}
			}
			if got[i] != want {
				t.Fatalf("at most %v: %d, want %d", bound, got[i], want)
			}
		}
	})
}

func TestEmptyAndClampedHistograms(t *testing.T) {
	t.Parallel()
	var empty nsstats.Buckets
	if empty.Quantile(0.99) != 0 || empty.Count() != 0 {
		t.Errorf("the zero Buckets: q99 %v, count %d; want 0, 0", empty.Quantile(0.99), empty.Count())
	}
	var h nsstats.Histogram
	h.Observe(0)                 // counted as 1 µs
	h.Observe(time.Hour)         // counted in the last bucket
	h.Observe(-time.Millisecond) // as 1 µs
	b := h.Snapshot()
	if got := b.Quantile(0.5); got != time.Microsecond {
		t.Errorf("median of 0, -1ms and an hour = %v, want 1µs", got)
	}
	if got, top := b.Quantile(1), time.Duration(1<<27)*time.Microsecond; got != top {
		t.Errorf("max of an hour = %v, want the top bucket's bound %v", got, top)
	}
}
