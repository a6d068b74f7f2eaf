package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Reads counts client reads by how many versions (siblings) their answer
// held: the Dynamo paper's measure of divergence (§6.3: 99.94% of its
// requests saw exactly one version).
type Reads struct {
	versions *prometheus.CounterVec
}

// NewReads creates the read instruments and registers them with reg.
func NewReads(reg prometheus.Registerer) *Reads {
	m := &Reads{versions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "concord", Subsystem: "read", Name: "versions_total",
		Help: "Client reads that found the key, by namespace and the number of versions (siblings) in the answer: 1, 2, 3 or 4+.",
	}, []string{"namespace", "versions"})}
	reg.MustRegister(m.versions)
	return m
}

// Observe counts a read of namespace ns whose answer held n versions; a
// read that found nothing (n = 0) is not counted.
func (m *Reads) Observe(ns string, n int) {
	if n <= 0 {
		return
	}
	label := "4+"
	if n < 4 {
		label = strconv.Itoa(n)
	}
	m.versions.WithLabelValues(ns, label).Inc()
}
