package metrics

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/nsstats"
)

// The per-namespace series are made at scrape time from the node's
// numbers (package nsstats), the same numbers the admin API's
// GetNamespaceStats sums: one count per event, so /metrics and the API
// never disagree, and a deleted namespace's series disappear with it.
// Their cardinality is bounded by the cluster's cap on namespaces.

var (
	nsRequests = prometheus.NewDesc("concord_namespace_requests_total",
		"Client requests, by namespace, operation (get, put, delete, list) and Connect code (ok for successes).",
		[]string{"namespace", "operation", "code"}, nil)
	nsLatency = prometheus.NewDesc("concord_namespace_request_duration_seconds",
		"Client request latency, by namespace and operation.", []string{"namespace", "operation"}, nil)
	nsReadVersions = prometheus.NewDesc("concord_read_versions_total",
		"Client reads that found the key, by namespace and the number of versions (siblings) in the answer: 1, 2, 3 or 4+ (the Dynamo paper's §6.3 measure of divergence).",
		[]string{"namespace", "versions"}, nil)
	nsRejections = prometheus.NewDesc("concord_namespace_rejections_total",
		"Client requests refused by a rate limit or quota (RESOURCE_EXHAUSTED), by namespace and the limit's name.",
		[]string{"namespace", "limit"}, nil)
	nsKeysRepaired = prometheus.NewDesc("concord_namespace_keys_repaired_total",
		"Keys repaired by read repair and anti-entropy, by namespace.", []string{"namespace"}, nil)
	nsHints = prometheus.NewDesc("concord_namespace_hints",
		"Hints this node keeps of the namespace's keys for other nodes.", []string{"namespace"}, nil)
	nsResolverLatency = prometheus.NewDesc("concord_resolver_duration_seconds",
		"Resolutions by the namespace's resolver: time from the call to its answer, waiting for an instance included.", []string{"namespace"}, nil)
	nsResolverCPU = prometheus.NewDesc("concord_resolver_cpu_seconds_total",
		"CPU time the namespace's resolver calls used on this node.", []string{"namespace"}, nil)
)

// latencyBounds are the histogram buckets exported: every other power of
// two microseconds, 64 µs to about 17 s (bounds the in-process histograms
// count exactly).
var latencyBounds = func() []time.Duration {
	var out []time.Duration
	for k := 6; k <= 24; k += 2 {
		out = append(out, time.Duration(1<<k)*time.Microsecond)
	}
	return out
}()

// namespacesCollector turns the node's per-namespace numbers into series
// on scrape.
type namespacesCollector struct{ stats func() []nsstats.Stats }

// RegisterNamespaces registers the per-namespace series with reg; stats is
// called on every scrape and returns this node's numbers of every
// namespace, histograms included.
func RegisterNamespaces(reg prometheus.Registerer, stats func() []nsstats.Stats) {
	reg.MustRegister(namespacesCollector{stats: stats})
}

func (c namespacesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nsRequests, nsLatency, nsReadVersions, nsRejections, nsKeysRepaired, nsHints, nsResolverLatency, nsResolverCPU} {
		ch <- d
	}
}

func (c namespacesCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range c.stats() {
		ns := s.Namespace
		for _, o := range s.Operations {
			ok := o.Requests
			for _, code := range slices.Sorted(maps.Keys(o.Errors)) {
				counter(nsRequests, o.Errors[code], ns, o.Name, code)
				ok -= min(o.Errors[code], ok)
			}
			counter(nsRequests, ok, ns, o.Name, "ok")
			ch <- histogram(nsLatency, o.Latency, ns, o.Name)
		}
		for i, n := range s.ReadsByVersions {
			label := strconv.Itoa(i + 1)
			if i == nsstats.Versions-1 {
				label += "+"
			}
			counter(nsReadVersions, n, ns, label)
		}
		for _, limit := range slices.Sorted(maps.Keys(s.Rejections)) {
			counter(nsRejections, s.Rejections[limit], ns, limit)
		}
		counter(nsKeysRepaired, s.KeysRepaired, ns)
		ch <- prometheus.MustNewConstMetric(nsHints, prometheus.GaugeValue, float64(s.Hints), ns)
		ch <- histogram(nsResolverLatency, s.Resolver.Latency, ns)
		ch <- prometheus.MustNewConstMetric(nsResolverCPU, prometheus.CounterValue, s.Resolver.CPU.Seconds(), ns)
	}
}

// histogram is b as a Prometheus histogram over latencyBounds.
func histogram(d *prometheus.Desc, b nsstats.Buckets, labels ...string) prometheus.Metric {
	cum := b.Cumulative(latencyBounds)
	buckets := make(map[float64]uint64, len(latencyBounds))
	for i, bound := range latencyBounds {
		buckets[bound.Seconds()] = cum[i]
	}
	return prometheus.MustNewConstHistogram(d, b.Count(), b.Sum.Seconds(), buckets, labels...)
}
