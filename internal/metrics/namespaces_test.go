package metrics_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/engine/storage/pebble"
	"github.com/concord-kv/concord/internal/metrics"
)

// wantLines checks that every line of want is on /metrics of reg.
func wantLines(t *testing.T, reg *prometheus.Registry, want ...string) []string {
	t.Helper()
	got := scrape(t, reg)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("/metrics lacks %q; it has:\n%s", w, strings.Join(got, "\n"))
		}
	}
	return got
}

// TestNamespaceSeries: a namespace's numbers appear labelled with it:
// requests by operation and code, latency histograms whose buckets count
// exactly, reads by versions, rejections by limit; a deleted namespace's
// series go with it.
func TestNamespaceSeries(t *testing.T) {
	t.Parallel()
	live := map[string]bool{"a": true}
	k := nsstats.NewKeeper(func(ns string) bool { return live[ns] })
	for _, d := range []time.Duration{500 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond} {
		k.Request("a", nsstats.OpGet, "ok", d)
	}
	k.Request("a", nsstats.OpGet, "unavailable", 3*time.Millisecond)
	k.Read("a", 2)
	k.Rejected("a", "writes_per_second")
	k.Repaired("a", 3)
	reg := prometheus.NewRegistry()
	metrics.RegisterNamespaces(reg, func() []nsstats.Stats {
		var out []nsstats.Stats
		if live["a"] {
			out = append(out, k.Snapshot("a"))
		}
		return out
	})
	wantLines(t, reg,
		`concord_namespace_requests_total{code="ok",namespace="a",operation="get"} 3`,
		`concord_namespace_requests_total{code="unavailable",namespace="a",operation="get"} 1`,
		`concord_namespace_requests_total{code="ok",namespace="a",operation="list"} 0`,
		`concord_namespace_request_duration_seconds_bucket{namespace="a",operation="get",le="0.000256"} 0`,
		`concord_namespace_request_duration_seconds_bucket{namespace="a",operation="get",le="0.001024"} 2`,
		`concord_namespace_request_duration_seconds_bucket{namespace="a",operation="get",le="0.004096"} 4`,
		`concord_namespace_request_duration_seconds_count{namespace="a",operation="get"} 4`,
		`concord_namespace_request_duration_seconds_sum{namespace="a",operation="get"} 0.006`,
		`concord_read_versions_total{namespace="a",versions="1"} 0`,
		`concord_read_versions_total{namespace="a",versions="2"} 1`,
		`concord_read_versions_total{namespace="a",versions="4+"} 0`,
		`concord_namespace_rejections_total{limit="writes_per_second",namespace="a"} 1`,
		`concord_namespace_keys_repaired_total{namespace="a"} 3`,
		`concord_namespace_hints{namespace="a"} 0`,
		`concord_resolver_duration_seconds_count{namespace="a"} 0`,
		`concord_resolver_cpu_seconds_total{namespace="a"} 0`,
	)
	delete(live, "a")
	if got := scrape(t, reg); slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, `namespace="a"`) }) {
		t.Errorf("a deleted namespace's series remain:\n%s", strings.Join(got, "\n"))
	}
}

// TestStorageSeries: the Pebble store's figures appear as concord_pebble_*,
// and nothing when the node has no Pebble store.
func TestStorageSeries(t *testing.T) {
	t.Parallel()
	has := true
	reg := prometheus.NewRegistry()
	metrics.RegisterStorage(reg, func() (pebble.Metrics, bool) {
		return pebble.Metrics{Flushes: 3, Compactions: 2, L0Files: 4, L0Sublevels: 1, ReadAmp: 5, WALBytesWritten: 1024, BlockCacheHits: 9, BlockCacheMisses: 1, DiskSpaceUsage: 4096}, has
	})
	wantLines(t, reg,
		"concord_pebble_flushes_total 3",
		"concord_pebble_compactions_total 2",
		"concord_pebble_l0_files 4",
		"concord_pebble_l0_sublevels 1",
		"concord_pebble_read_amplification 5",
		"concord_pebble_wal_written_bytes_total 1024",
		"concord_pebble_block_cache_hits_total 9",
		"concord_pebble_block_cache_misses_total 1",
		"concord_pebble_disk_usage_bytes 4096",
	)
	has = false
	if got := scrape(t, reg); slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "concord_pebble_") }) {
		t.Errorf("pebble series without a Pebble store:\n%s", strings.Join(got, "\n"))
	}
}
