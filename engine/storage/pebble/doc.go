// Package pebble is the production [storage.Engine] of concord, backed by
// [Pebble], CockroachDB's LSM key-value store.
//
// [Open] opens or creates a store in a directory. [Options.FS] selects the
// filesystem: the disk by default, and in tests Pebble's in-memory
// filesystem ([vfs.NewMem]) or its crashable variant ([vfs.NewCrashableMem]),
// whose CrashClone shows what a machine crash would leave behind.
//
// Durability: [storage.WriteOptions.Sync] commits with pebble.Sync. Pebble's
// commit pipeline batches the WAL writes and fsyncs of concurrent writers
// (group commit), so many synced writers share one fsync. An unsynced batch
// survives a process crash (it is in the OS page cache once Apply returns)
// but not a machine crash.
//
// Disk failures: when the WAL cannot be written or synced, Pebble fails
// every synced writer of the group commit and calls its logger's Fatalf
// (by default, os.Exit). This package's logger panics instead, and
// [Engine.Apply] recovers the panic: the write returns an error wrapping
// [storage.ErrFailed] and is never acknowledged. The engine is fenced from
// then on: every read, write, snapshot and iterator fails with the same
// error, since Pebble has already made the failed batch visible in memory.
// A Fatalf on one of Pebble's own goroutines (a flush or compaction that
// cannot write its MANIFEST) still ends the process. Recovery is a restart:
// reopening replays the WAL up to what was synced. The tests inject these
// failures with Pebble's errorfs (storagetest.RunDiskFaults).
//
// Reads: [Engine.Get] copies the value and releases Pebble's handle before it
// returns, so a Get never pins memtables or sstables. Iterators and
// snapshots do pin them until closed; close them promptly. [Engine.Close]
// closes any that are still open, which then report [storage.ErrClosed],
// instead of letting Pebble panic.
//
// The empty key is supported, with one caveat from Pebble v2.1.7: built with
// -race (which turns Pebble's invariant checks on), Pebble panics when it
// writes an sstable that starts with the empty key, a false positive of an
// assertion (colblk.AssertKeyCompare) fixed upstream after v2.1.7. Release
// builds are correct (TestEmptyKeyInSSTable). concord's keys are never empty:
// each starts with its partition. The iterator also avoids another such
// assertion by turning SeekGE of the empty key into First.
//
// An [Engine] and its snapshots are safe for concurrent use; an iterator is
// used by one goroutine at a time.
//
// [Pebble]: https://github.com/cockroachdb/pebble
package pebble
