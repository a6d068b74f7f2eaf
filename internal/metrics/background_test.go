package metrics_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/internal/metrics"
)

// scrape returns what /metrics serves of reg, one sample a line.
func scrape(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Split(rec.Body.String(), "\n")
}

// TestBackgroundGaugesFollowThePacer: the share and each kind's rate
// appear on /metrics and fall when slow foreground requests halve the
// pacer's share.
func TestBackgroundGaugesFollowThePacer(t *testing.T) {
	t.Parallel()
	p := pace.New()
	p.Limiter("handoff", 20000)
	p.Limiter("hints", 10000)
	p.Limiter("aae", 5000)
	reg := prometheus.NewRegistry()
	metrics.RegisterBackground(reg, p.Stats)
	check := func(want ...string) {
		t.Helper()
		got := scrape(t, reg)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("/metrics lacks %q; it has:\n%s", w, strings.Join(got, "\n"))
			}
		}
	}
	check(
		"concord_background_share 1",
		`concord_background_rate_per_second{kind="aae"} 5000`,
		`concord_background_rate_per_second{kind="handoff"} 20000`,
		`concord_background_rate_per_second{kind="hints"} 10000`,
	)
	// A tick at the steady state, then one ten times slower: halved.
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond} {
		for range 20 {
			p.Observe(d)
		}
		p.Tick()
	}
	check(
		"concord_background_share 0.5",
		`concord_background_rate_per_second{kind="aae"} 2500`,
		`concord_background_rate_per_second{kind="handoff"} 10000`,
		`concord_background_rate_per_second{kind="hints"} 5000`,
	)
}
