package nsstats

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram's buckets are log-linear over microseconds: eight buckets
// per power of two, so a bucket is at most 12.5% wide, from 1 µs to 2^27 µs
// (about 134 s; longer durations are counted in the last bucket). A bucket
// holds the durations v with lo < v ≤ hi, so every power of two from 2 µs
// up is a bucket bound and a cumulative count at one is exact.
const (
	subBits     = 3
	subBuckets  = 1 << subBits
	maxExp      = 27
	bucketCount = (maxExp - subBits + 1) * subBuckets
	maxMicros   = 1 << maxExp
)

// Histogram counts durations in fixed buckets about 12% wide, lock-free:
// an in-process latency histogram, cheap enough for every request. Its
// quantiles are within half a bucket (about 6%) of the true ones. The zero
// value is ready; it is safe for concurrent use.
type Histogram struct {
	counts [bucketCount]atomic.Uint64
	sum    atomic.Uint64 // µs
}

// Observe counts one duration (below 1 µs counts as 1 µs).
func (h *Histogram) Observe(d time.Duration) {
	us := uint64(min(max(d.Microseconds(), 1), maxMicros))
	h.counts[bucketOf(us)].Add(1)
	h.sum.Add(us)
}

// Snapshot copies the counts. Observations that run meanwhile may or may
// not be in it.
func (h *Histogram) Snapshot() Buckets {
	b := Buckets{Counts: make([]uint64, bucketCount), Sum: time.Duration(h.sum.Load()) * time.Microsecond}
	for i := range h.counts {
		b.Counts[i] = h.counts[i].Load()
	}
	return b
}

// bucketOf is the bucket of a duration of us microseconds (1 ≤ us ≤
// maxMicros).
func bucketOf(us uint64) int {
	x := us - 1
	if x < subBuckets {
		return int(x)
	}
	e := bits.Len64(x) - 1 // subBits ≤ e < maxExp
	sub := int(x>>(e-subBits)) - subBuckets
	return (e-subBits+1)*subBuckets + sub
}

// upper is the largest duration, in microseconds, bucket i holds.
func upper(i int) uint64 {
	if i < subBuckets {
		return uint64(i) + 1
	}
	e := i/subBuckets - 1 + subBits
	sub := uint64(i % subBuckets)
	return (subBuckets + sub + 1) << (e - subBits)
}

// lower is the largest duration, in microseconds, below bucket i.
func lower(i int) uint64 {
	if i == 0 {
		return 0
	}
	return upper(i - 1)
}

// Buckets are a histogram's counts at one moment: Counts[i] durations in
// bucket i, whose sum is Sum. The zero value is an empty histogram.
type Buckets struct {
	Counts []uint64
	Sum    time.Duration
}

// Count is the number of durations counted.
func (b Buckets) Count() uint64 {
	var n uint64
	for _, c := range b.Counts {
		n += c
	}
	return n
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the durations, found by
// linear interpolation inside its bucket; 0 for an empty histogram.
func (b Buckets) Quantile(q float64) time.Duration {
	n := b.Count()
	if n == 0 {
		return 0
	}
	rank := min(max(uint64(math.Ceil(q*float64(n))), 1), n)
	var seen uint64
	for i, c := range b.Counts {
		if c == 0 || seen+c < rank {
			seen += c
			continue
		}
		lo, hi := float64(lower(i)), float64(upper(i))
		us := lo + (hi-lo)*float64(rank-seen)/float64(c)
		return time.Duration(us * float64(time.Microsecond))
	}
	return time.Duration(upper(len(b.Counts)-1)) * time.Microsecond // not reached
}

// Cumulative returns, for each of bounds (ascending), the number of
// durations in the buckets that end at or below it: exactly the durations
// at most that long when the bound is a power of two microseconds (from 2
// µs to 2^27 µs), as Prometheus histogram buckets count.
func (b Buckets) Cumulative(bounds []time.Duration) []uint64 {
	out := make([]uint64, len(bounds))
	var seen uint64
	j := 0
	for i, c := range b.Counts {
		for j < len(bounds) && time.Duration(upper(i))*time.Microsecond > bounds[j] {
			out[j] = seen
			j++
		}
		seen += c
	}
	for ; j < len(bounds); j++ {
		out[j] = seen
	}
	return out
}
