package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 10 minutes with 3
// significant digits; longer ones are clamped to the top.
const (
	histMin = 1
	histMax = int64(10 * time.Minute / time.Microsecond)
	histSig = 3
)

// histogram is an HDR histogram of latencies. Not safe for concurrent use.
type histogram struct{ h *hdrhistogram.Histogram }

func newHistogram() *histogram {
	return &histogram{h: hdrhistogram.New(histMin, histMax, histSig)}
}

func (h *histogram) record(d time.Duration) {
	us := min(max(d.Microseconds(), histMin), histMax)
	_ = h.h.RecordValue(us) // in range by construction
}

func (h *histogram) merge(o *histogram) { h.h.Merge(o.h) }
func (h *histogram) reset()             { h.h.Reset() }
func (h *histogram) count() int64       { return h.h.TotalCount() }

// quantile returns the q-th percentile (q in [0, 100]).
func (h *histogram) quantile(q float64) time.Duration {
	return time.Duration(h.h.ValueAtQuantile(q)) * time.Microsecond
}

func (h *histogram) max() time.Duration { return time.Duration(h.h.Max()) * time.Microsecond }
