package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults used for zero fields of [Options].
const (
	DefaultCacheSize    = 64 << 20 // 64 MiB block cache
	DefaultMemTableSize = 64 << 20 // 64 MiB memtable
	DefaultMaxOpenFiles = 1000
	// DefaultWALSyncInterval is the shortest time between two syncs of the
	// WAL (Pebble's WALMinSyncInterval): a synced write that arrives within
	// it of the last sync waits for the next one, which covers every write
	// that arrived meanwhile. See [Options.WALSyncInterval].
	DefaultWALSyncInterval = time.Millisecond
)

// maxMemTableSize is Pebble's limit (exclusive) on a memtable.
const maxMemTableSize = 4 << 30

// Options configure [Open]. The zero value is valid and selects the defaults.
type Options struct {
	// FS is the filesystem holding the store. Nil means the disk
	// (vfs.Default). Tests pass vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// Logger receives Pebble's log lines. Nil means slog.Default().
	Logger *slog.Logger
	// CacheSize is the size of the block cache in bytes. Zero means
	// DefaultCacheSize.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes; a full memtable is
	// flushed to an sstable. Zero means DefaultMemTableSize. Must be below
	// 4 GiB.
	MemTableSize uint64
	// MaxOpenFiles caps the number of open sstable files. Zero means
	// DefaultMaxOpenFiles.
	MaxOpenFiles int
	// WALSyncInterval is the shortest time between two syncs of the WAL
	// while synced writers overlap. Synced writes that arrive within it of
	// the last sync share the next one (group commit with a window): each
	// still waits for a sync that covers it before it returns, so nothing
	// is acknowledged earlier; a write waits up to this long more when
	// another sync just ran, and under load the node makes far fewer
	// fsyncs. A sync with no other synced commit in flight beside it
	// imposes no wait, so a lone writer is never slowed. Zero means
	// DefaultWALSyncInterval; negative syncs as soon as asked.
	WALSyncInterval time.Duration
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	var errs []error
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("storage/pebble: CacheSize %d is negative", o.CacheSize))
	}
	if o.MemTableSize >= maxMemTableSize {
		errs = append(errs, fmt.Errorf("storage/pebble: MemTableSize %d is not below 4 GiB", o.MemTableSize))
	}
	if o.MaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("storage/pebble: MaxOpenFiles %d is negative", o.MaxOpenFiles))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.WALSyncInterval == 0 {
		o.WALSyncInterval = DefaultWALSyncInterval
	}
	return o
}

// walSyncWait is Pebble's WALMinSyncInterval for an interval d: nil (no
// wait) when d is not positive. Pebble asks it after each sync how long
// the next one must wait. It waits d only while another synced commit is
// in flight beside the one just synced (syncing counts them): then more
// are arriving, and the next sync is worth sharing. A lone writer, whose
// next synced commit comes only after this one returns, never waits: a
// fixed interval held a client writing one key after another to one
// synced write a millisecond (on a 2-core cluster, 0.7× the throughput of
// one client).
func walSyncWait(d time.Duration, syncing *atomic.Int64) func() time.Duration {
	if d <= 0 {
		return nil
	}
	return func() time.Duration {
		if syncing.Load() > 1 {
			return d
		}
		return 0
	}
}
