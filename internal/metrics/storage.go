package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/engine/storage/pebble"
)

// storageMetrics are the Pebble figures exported, as concord_pebble_*.
var storageMetrics = []struct {
	name, help string
	kind       prometheus.ValueType
	get        func(pebble.Metrics) float64
}{
	{"concord_pebble_compactions_total", "Compactions since the store was opened.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.Compactions) }},
	{"concord_pebble_flushes_total", "Memtable flushes since the store was opened.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.Flushes) }},
	{"concord_pebble_l0_files", "Sstables in level 0 (many slow reads; Pebble stalls writes over its threshold).", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.L0Files) }},
	{"concord_pebble_l0_sublevels", "Sublevels of level 0.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.L0Sublevels) }},
	{"concord_pebble_read_amplification", "Sstable sublevels a read may visit.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.ReadAmp) }},
	{"concord_pebble_wal_bytes", "Physical size of the live WAL files.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.WALBytes) }},
	{"concord_pebble_wal_written_bytes_total", "Bytes written to the WAL since the store was opened.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.WALBytesWritten) }},
	{"concord_pebble_memtable_bytes", "Memory held by memtables.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.MemTableBytes) }},
	{"concord_pebble_live_sstable_bytes", "Size of the live sstables.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.LiveSSTableBytes) }},
	{"concord_pebble_compaction_debt_bytes", "Estimated bytes to compact to reach a stable LSM shape.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.CompactionDebt) }},
	{"concord_pebble_disk_usage_bytes", "Bytes the store occupies on disk: WAL, sstables and manifest.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.DiskSpaceUsage) }},
	{"concord_pebble_block_cache_bytes", "Bytes in the block cache.", prometheus.GaugeValue, func(m pebble.Metrics) float64 { return float64(m.BlockCacheBytes) }},
	{"concord_pebble_block_cache_hits_total", "Block cache hits.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.BlockCacheHits) }},
	{"concord_pebble_block_cache_misses_total", "Block cache misses.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.BlockCacheMisses) }},
	{"concord_pebble_write_stalls_total", "Times Pebble held writes back (too many memtables to flush or level-0 files).", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.WriteStalls) }},
	{"concord_pebble_write_stall_seconds_total", "Time Pebble held writes back.", prometheus.CounterValue, func(m pebble.Metrics) float64 { return m.WriteStallTime.Seconds() }},
	{"concord_pebble_slow_disk_operations_total", "Disk operations slower than Pebble's threshold (each also logged).", prometheus.CounterValue, func(m pebble.Metrics) float64 { return float64(m.SlowDiskOps) }},
}

// storageCollector turns the store's metrics into series on scrape.
type storageCollector struct {
	metrics func() (pebble.Metrics, bool)
	descs   []*prometheus.Desc // as storageMetrics
}

// RegisterStorage registers the Pebble store's figures with reg; metrics
// is called on every scrape (false: no Pebble store, nothing exported).
func RegisterStorage(reg prometheus.Registerer, metrics func() (pebble.Metrics, bool)) {
	c := storageCollector{metrics: metrics}
	for _, m := range storageMetrics {
		c.descs = append(c.descs, prometheus.NewDesc(m.name, m.help, nil, nil))
	}
	reg.MustRegister(c)
}

func (c storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c storageCollector) Collect(ch chan<- prometheus.Metric) {
	m, ok := c.metrics()
	if !ok {
		return
	}
	for i, sm := range storageMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[i], sm.kind, sm.get(m))
	}
}
