package metrics_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/internal/metrics"
)

// TestNamespaceUsageGauges: each namespace's stored keys and bytes appear
// on /metrics, labelled by namespace.
func TestNamespaceUsageGauges(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.RegisterNamespaceUsage(reg, func() map[string]replica.Usage {
		return map[string]replica.Usage{"carts": {Keys: 3, Bytes: 120}, "tags": {Keys: 1, Bytes: 9}}
	})
	got := scrape(t, reg)
	for _, w := range []string{
		`concord_namespace_stored_keys{namespace="carts"} 3`,
		`concord_namespace_stored_bytes{namespace="carts"} 120`,
		`concord_namespace_stored_keys{namespace="tags"} 1`,
		`concord_namespace_stored_bytes{namespace="tags"} 9`,
	} {
		if !slices.Contains(got, w) {
			t.Errorf("/metrics lacks %q; it has:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
