package bench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Threshold is one condition of --assert, such as p99<40ms.
type Threshold struct {
	Text   string // as given
	Op     string // operation ("read", ...) or "" for all
	Metric string // p50, p95, p99, p99.9, max, throughput, errors, cpu_per_op
	Less   bool   // < or <= (else > or >=)
	Equal  bool   // <= or >=
	Value  float64
}

// latencyMetrics are compared in milliseconds and take a duration.
var latencyMetrics = map[string]func(OpLatency) float64{
	"p50": func(l OpLatency) float64 { return l.P50 }, "p95": func(l OpLatency) float64 { return l.P95 },
	"p99": func(l OpLatency) float64 { return l.P99 }, "p99.9": func(l OpLatency) float64 { return l.P999 },
	"max": func(l OpLatency) float64 { return l.Max },
}

// ParseAssert parses a comma-separated list of thresholds: METRIC OP VALUE
// with OP one of < <= > >=. Latency metrics (p50, p95, p99, p99.9, max),
// optionally prefixed by an operation (read.p99), take a duration (40ms,
// 1.5s); throughput (ops/s), errors and cpu_per_op (µs) take numbers.
func ParseAssert(s string) ([]Threshold, error) {
	var out []Threshold
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, err := parseThreshold(part)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseThreshold(s string) (Threshold, error) {
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("--assert %q: want METRIC<VALUE or METRIC>VALUE, e.g. p99<40ms", s)
	}
	t := Threshold{Text: s, Metric: strings.TrimSpace(s[:i]), Less: s[i] == '<'}
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Equal, rest = true, rest[1:]
	}
	rest = strings.TrimSpace(rest)
	if op, m, ok := strings.Cut(t.Metric, "."); ok && latencyMetrics[t.Metric] == nil {
		t.Op, t.Metric = op, m
	}
	switch {
	case latencyMetrics[t.Metric] != nil:
		d, err := time.ParseDuration(rest)
		if err != nil {
			return Threshold{}, fmt.Errorf("--assert %q: %s takes a duration such as 40ms", s, t.Metric)
		}
		t.Value = float64(d.Microseconds()) / 1000
	case t.Op != "":
		return Threshold{}, fmt.Errorf("--assert %q: only latency metrics take an operation prefix", s)
	case t.Metric == "throughput" || t.Metric == "errors" || t.Metric == "cpu_per_op":
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return Threshold{}, fmt.Errorf("--assert %q: %s takes a number", s, t.Metric)
		}
		t.Value = v
	default:
		return Threshold{}, fmt.Errorf("--assert %q: unknown metric %q: use p50, p95, p99, p99.9, max, throughput, errors or cpu_per_op", s, t.Metric)
	}
	return t, nil
}

// Check evaluates the thresholds against rep and returns an error naming
// every one that failed, or nil.
func Check(rep *Report, ts []Threshold) error {
	var failed []string
	for _, t := range ts {
		got, ok := t.actual(rep)
		switch {
		case !ok:
			failed = append(failed, fmt.Sprintf("%s (not measured)", t.Text))
		case !t.holds(got):
			failed = append(failed, fmt.Sprintf("%s (was %.6g%s)", t.Text, got, t.unit()))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return errors.New("bench: thresholds failed: " + strings.Join(failed, "; "))
}

func (t Threshold) unit() string {
	switch {
	case latencyMetrics[t.Metric] != nil:
		return "ms"
	case t.Metric == "throughput":
		return " ops/s"
	case t.Metric == "cpu_per_op":
		return "µs"
	}
	return ""
}

func (t Threshold) holds(v float64) bool {
	switch {
	case t.Less && t.Equal:
		return v <= t.Value
	case t.Less:
		return v < t.Value
	case t.Equal:
		return v >= t.Value
	}
	return v > t.Value
}

func (t Threshold) actual(rep *Report) (float64, bool) {
	switch t.Metric {
	case "throughput":
		return rep.Throughput, true
	case "errors":
		return float64(rep.Errors), true
	case "cpu_per_op":
		if rep.CPU == nil || rep.CPU.Nodes == 0 {
			return 0, false
		}
		return rep.CPU.MicrosPerOp, true
	}
	op := t.Op
	if op == "" {
		op = "all"
	}
	for _, l := range rep.Latency {
		if l.Op == op && l.Count > 0 {
			return latencyMetrics[t.Metric](l), true
		}
	}
	return 0, false
}
