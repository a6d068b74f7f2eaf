package pebble

import (
	"time"

	"github.com/concord-kv/concord/engine/storage"
)

// Metrics is a summary of the store's state, for dashboards and tests.
type Metrics struct {
	// DiskSpaceUsage is the number of bytes the store occupies on its
	// filesystem: WAL, sstables (live, obsolete and zombie) and manifest.
	DiskSpaceUsage uint64
	// LiveSSTableBytes is the size of the live sstables.
	LiveSSTableBytes uint64
	// WALBytes is the physical size of the live WAL files.
	WALBytes uint64
	// WALBytesWritten counts the bytes written to the WAL since the store
	// was opened.
	WALBytesWritten uint64
	// L0Files and L0Sublevels are the sstables and sublevels of level 0:
	// many of either slow reads, and Pebble stalls writes over its
	// thresholds.
	L0Files     int64
	L0Sublevels int
	// MemTableBytes is the memory held by memtables.
	MemTableBytes uint64
	// ReadAmp is the number of sstable sublevels a read may visit.
	ReadAmp int
	// CompactionDebt estimates the bytes to compact to reach a stable
	// LSM shape.
	CompactionDebt uint64
	// Flushes and Compactions count memtable flushes and compactions since
	// the store was opened.
	Flushes, Compactions int64
	// BlockCacheBytes, BlockCacheHits and BlockCacheMisses describe the
	// block cache.
	BlockCacheBytes, BlockCacheHits, BlockCacheMisses int64
	// Snapshots is the number of open snapshots.
	Snapshots int
	// WriteStalls counts the times Pebble held writes back since the store
	// was opened, and WriteStallTime the time they were held, the stall in
	// progress included.
	WriteStalls    int64
	WriteStallTime time.Duration
	// SlowDiskOps counts disk operations slower than Pebble's threshold.
	SlowDiskOps int64
}

// Metrics returns a summary of the store's state.
func (e *Engine) Metrics() (Metrics, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return Metrics{}, storage.ErrClosed
	}
	m := e.db.Metrics()
	stalls, stallTime := e.stalls.total()
	return Metrics{
		WriteStalls:      stalls,
		WriteStallTime:   stallTime,
		SlowDiskOps:      e.stalls.slowDisk.Load(),
		DiskSpaceUsage:   m.DiskSpaceUsage(),
		LiveSSTableBytes: m.Table.Local.LiveSize,
		WALBytes:         m.WAL.PhysicalSize,
		WALBytesWritten:  m.WAL.BytesWritten,
		L0Files:          m.Levels[0].TablesCount,
		L0Sublevels:      int(m.Levels[0].Sublevels),
		MemTableBytes:    m.MemTable.Size,
		ReadAmp:          m.ReadAmp(),
		CompactionDebt:   m.Compact.EstimatedDebt,
		Flushes:          m.Flush.Count,
		Compactions:      m.Compact.Count,
		BlockCacheBytes:  m.BlockCache.Size,
		BlockCacheHits:   m.BlockCache.Hits,
		BlockCacheMisses: m.BlockCache.Misses,
		Snapshots:        m.Snapshots.Count,
	}, nil
}
