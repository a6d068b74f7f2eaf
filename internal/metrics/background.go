package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/pace"
)

var (
	backgroundShare = prometheus.NewDesc("concord_background_share",
		"The share of their maximum rates background work (handoff, hint delivery, anti-entropy repair) runs at: 1 while foreground latency is normal, halved on each tick it is not.", nil, nil)
	backgroundRate = prometheus.NewDesc("concord_background_rate_per_second",
		"The rate each kind of background work is allowed now, in objects, hints or keys per second, by kind.", []string{"kind"}, nil)
)

// backgroundCollector turns the pacer's state into gauges on scrape.
type backgroundCollector struct{ stats func() pace.Stats }

// RegisterBackground registers the gauges of the node's pacer (package
// engine/pace) with reg; stats is called on every scrape.
func RegisterBackground(reg prometheus.Registerer, stats func() pace.Stats) {
	reg.MustRegister(backgroundCollector{stats: stats})
}

func (c backgroundCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backgroundShare
	ch <- backgroundRate
}

func (c backgroundCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(backgroundShare, prometheus.GaugeValue, s.Share)
	for _, kind := range slices.Sorted(maps.Keys(s.Rates)) {
		ch <- prometheus.MustNewConstMetric(backgroundRate, prometheus.GaugeValue, s.Rates[kind], kind)
	}
}
