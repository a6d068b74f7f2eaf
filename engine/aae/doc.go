// Package aae is concord's active anti-entropy: it finds and repairs the keys
// on which two replicas of a partition disagree, in the background, so that
// replicas converge even for keys nobody reads (read repair only fixes what
// is read) and after hints were lost.
//
// # TicTac trees
//
// Each replica keeps, per partition, a TicTac Merkle tree (package
// [github.com/concord-kv/concord/engine/aae/tictac], pure and documented
// there): a fixed number of segments, each the XOR of h(key, object) over
// the keys that hash into it, so that replicas holding the same objects
// have the same segments whatever order the writes reached them in, and a
// write changes one segment in place.
//
// # How a node uses it
//
//   - The write path calls the tree's Update for every object it persists,
//     with the exact old and new encoded bytes (nil for an absent key), under
//     the same per-key lock as the write, so that the tree applies every
//     change once. That covers client writes, replication, read repair, handoff and
//     [Replica.Merge] of this package.
//   - At start, the trees are rebuilt from a storage scan of each partition
//     (Update(key, nil, object) for each key); they are not persisted.
//   - A [Scheduler] walks the node's partitions round-robin and runs
//     [Exchange] with the other replicas of each. Exchange compares the
//     segments, asks both replicas for the keys of the differing segments,
//     merges each key's objects with [dvv.Sync] and sends the result to the
//     side that lacks it. A [Replica] may be local (the node's store) or a
//     peer reached over RPC; this package only sees the interface.
//
// One [Replica.Objects] call asks for all the segments of one round, because
// segments are hash ranges, not key ranges: on a store laid out by key
// (package keys) finding the keys of any segment is a scan of the partition,
// which one call amortizes over every segment of the round.
// [ExchangeOptions] bound a round (segments, batch size, a [Limiter] on the
// keys sent) and the scheduler skips rounds while foreground latency is high
// ([SchedulerConfig.Pressure], Dynamo §6.5).
//
// Tombstones are objects like any other: anti-entropy spreads them and never
// removes them. Purging a tombstone once every replica holds it is not done
// here (package engine/purge decides it); the purge must call
// Update(key, tombstone, nil) on the tree.
//
// # Goroutine safety
//
// [Scheduler] is safe for concurrent use; [Exchange] is safe to run
// concurrently with writes to both replicas.
package aae
