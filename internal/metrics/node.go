package metrics

import "github.com/prometheus/client_golang/prometheus"

// NodeStats is what a node reports at scrape time.
type NodeStats struct {
	HintBacklog      int64
	HintsDelivered   int64
	HintedWrites     int64
	ReadRepairs      int64
	ReadHedges       int64
	TombstonesPurged int64
	AAEExchanges     int64
	AAEKeysRepaired  int64
	ForwardedWrites  int64
	RemoteReads      int64
	Resolvers        []ResolverStats
}

// ResolverStats are one namespace's resolver counters on this node.
type ResolverStats struct {
	Namespace         string
	Calls             uint64
	Failures          map[string]uint64 // by kind: trap, timeout, …
	BreakerRejections uint64
	ColdStarts        uint64
}

// nodeCollector turns a node's counters into Prometheus metrics on scrape.
type nodeCollector struct {
	stats func() NodeStats
	descs map[string]*prometheus.Desc
}

var nodeMetrics = []struct {
	name, help string
	kind       prometheus.ValueType
	get        func(NodeStats) int64
}{
	{"concord_hint_backlog", "Hints this node keeps for other nodes.", prometheus.GaugeValue, func(s NodeStats) int64 { return s.HintBacklog }},
	{"concord_hints_delivered_total", "Hints delivered to their owners.", prometheus.CounterValue, func(s NodeStats) int64 { return s.HintsDelivered }},
	{"concord_hinted_writes_total", "Writes sent to a fallback (or kept here) as hints.", prometheus.CounterValue, func(s NodeStats) int64 { return s.HintedWrites }},
	{"concord_read_repairs_total", "Stale replicas repaired after reads.", prometheus.CounterValue, func(s NodeStats) int64 { return s.ReadRepairs }},
	{"concord_read_hedges_total", "Reads that asked more replicas because those asked first had not answered in time (late by their own record of reply times).", prometheus.CounterValue, func(s NodeStats) int64 { return s.ReadHedges }},
	{"concord_tombstones_purged_total", "Tombstones purged after every replica held them.", prometheus.CounterValue, func(s NodeStats) int64 { return s.TombstonesPurged }},
	{"concord_aae_exchanges_total", "Anti-entropy exchanges run.", prometheus.CounterValue, func(s NodeStats) int64 { return s.AAEExchanges }},
	{"concord_aae_keys_repaired_total", "Keys repaired by anti-entropy.", prometheus.CounterValue, func(s NodeStats) int64 { return s.AAEKeysRepaired }},
	{"concord_forwarded_writes_total", "Client writes of keys this node holds no replica of, forwarded to a coordinator (a client routing by partition avoids them).", prometheus.CounterValue, func(s NodeStats) int64 { return s.ForwardedWrites }},
	{"concord_remote_reads_total", "Client reads of keys this node holds no replica of (a client routing by partition avoids them).", prometheus.CounterValue, func(s NodeStats) int64 { return s.RemoteReads }},
}

// RegisterNode registers the node's counters with reg; stats is called on
// every scrape.
func RegisterNode(reg prometheus.Registerer, stats func() NodeStats) {
	c := &nodeCollector{stats: stats, descs: map[string]*prometheus.Desc{}}
	for _, m := range nodeMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
	reg.MustRegister(c)
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{resolverCalls, resolverFailures, resolverRejections, resolverColdStarts} {
		ch <- d
	}
}

var (
	resolverCalls = prometheus.NewDesc("concord_resolver_calls_total",
		"Resolver calls made into a module, by namespace.", []string{"namespace"}, nil)
	resolverFailures = prometheus.NewDesc("concord_resolver_failures_total",
		"Resolver calls that failed (siblings kept), by namespace and kind.", []string{"namespace", "kind"}, nil)
	resolverRejections = prometheus.NewDesc("concord_resolver_breaker_rejections_total",
		"Resolutions skipped because the namespace's circuit breaker was open.", []string{"namespace"}, nil)
	resolverColdStarts = prometheus.NewDesc("concord_resolver_cold_starts_total",
		"Resolver instances created, by namespace.", []string{"namespace"}, nil)
)

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, m := range nodeMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], m.kind, float64(m.get(s)))
	}
	for _, r := range s.Resolvers {
		ch <- prometheus.MustNewConstMetric(resolverCalls, prometheus.CounterValue, float64(r.Calls), r.Namespace)
		ch <- prometheus.MustNewConstMetric(resolverRejections, prometheus.CounterValue, float64(r.BreakerRejections), r.Namespace)
		ch <- prometheus.MustNewConstMetric(resolverColdStarts, prometheus.CounterValue, float64(r.ColdStarts), r.Namespace)
		for kind, n := range r.Failures {
			ch <- prometheus.MustNewConstMetric(resolverFailures, prometheus.CounterValue, float64(n), r.Namespace, kind)
		}
	}
}
