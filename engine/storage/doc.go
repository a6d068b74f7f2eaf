// Package storage defines the local key-value storage interface of a concord
// node: an ordered byte-keyed map with atomic batches, bounded iterators and
// point-in-time snapshots.
//
// Two implementations exist:
//
//   - package [github.com/concord-kv/concord/engine/storage/pebble], the
//     production engine, backed by Pebble, with synced group commit;
//   - package [github.com/concord-kv/concord/engine/storage/memory], an
//     in-memory engine for tests and the in-process cluster harness.
//
// Both pass the same conformance suite,
// [github.com/concord-kv/concord/engine/storage/storagetest.RunConformance].
//
// # Contract
//
// Keys are ordered by [bytes.Compare]. The empty key and the empty value are
// valid. [Reader.Get] returns a copy that the caller owns and returns
// [ErrNotFound] for an absent key. Iterators range over [lower, upper), where a
// nil bound is unbounded; the slices returned by [Iterator.Key] and
// [Iterator.Value] are only valid until the next move of the iterator.
//
// [Engine.Apply] applies a [Batch] atomically: a concurrent reader, a snapshot
// or a crash observes either every operation of the batch or none of them.
// With [WriteOptions.Sync] the batch is durable when Apply returns.
//
// Every method of an [Engine] or a [Snapshot] is safe for concurrent use. An
// [Iterator] and a [Batch] are not: each is used by one goroutine at a time.
// After [Engine.Close], every method of the engine, of its snapshots and of its
// iterators fails with [ErrClosed] (an iterator reports it through
// [Iterator.Error]).
package storage
