package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/replica"
)

var (
	nsStoredKeys = prometheus.NewDesc("concord_namespace_stored_keys",
		"Live keys this node stores of the namespace, every replica it holds counted (a key with only tombstones is not live).",
		[]string{"namespace"}, nil)
	nsStoredBytes = prometheus.NewDesc("concord_namespace_stored_bytes",
		"Bytes of the live keys this node stores of the namespace, keys and live values, every replica it holds counted.",
		[]string{"namespace"}, nil)
)

// usageCollector turns the node's usage figures into gauges on scrape.
type usageCollector struct {
	usage func() map[string]replica.Usage
}

// RegisterNamespaceUsage registers the gauges of what this node stores of
// each namespace with reg; usage is called on every scrape and returns
// the figures by namespace name (namespaces it leaves out have no series).
func RegisterNamespaceUsage(reg prometheus.Registerer, usage func() map[string]replica.Usage) {
	reg.MustRegister(usageCollector{usage: usage})
}

func (c usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nsStoredKeys
	ch <- nsStoredBytes
}

func (c usageCollector) Collect(ch chan<- prometheus.Metric) {
	u := c.usage()
	for _, ns := range slices.Sorted(maps.Keys(u)) {
		ch <- prometheus.MustNewConstMetric(nsStoredKeys, prometheus.GaugeValue, float64(u[ns].Keys), ns)
		ch <- prometheus.MustNewConstMetric(nsStoredBytes, prometheus.GaugeValue, float64(u[ns].Bytes), ns)
	}
}
