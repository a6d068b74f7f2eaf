// Package actor chooses the causal actor under which a node issues a dot,
// so that no actor ever issues the same dot twice, whatever the membership
// history.
//
// # The invariant
//
// A DVVSet ([dvv.Object]) names every write by a dot (actor, counter), and
// [dvv.Sync] assumes that two equal dots are the same write. An actor that
// issued (a, 5) for a key, forgot it, and issued (a, 5) again for another
// value would see one of the two silently dropped by the next merge: an
// acknowledged write lost. A node forgets what it issued when its local
// copy of a key goes backwards:
//
//   - it hands a partition off and deletes it, then gains it back (a leave
//     and a rejoin, or any rebalance that moves a partition away and back)
//     and receives, through handoff or anti-entropy, a copy older than its
//     own last write;
//   - it drops a namespace's data;
//   - it crashes before unsynced (buffered) writes it coordinated reached
//     its disk, while they did reach other replicas.
//
// # How it holds
//
// A node's actors are incarnations of its ID: "ID.SEQ", where SEQ comes
// from a per-node sequence that never repeats (it is leased from the store
// in blocks, and a restart skips the rest of a block). For each key the
// node continues the newest of its own incarnations found in its local
// copy, and mints a new one otherwise. It continues an incarnation only if
// its local copy of the key is known to hold the last dot that
// incarnation issued:
//
//   - the incarnation was minted after the partition's floor: every time
//     the node deletes a range of a partition (a handoff, a dropped
//     namespace) it first raises that partition's floor to the next SEQ,
//     and after a start that did not follow a clean shutdown it raises
//     every floor if dots were issued in unsynced writes since the last
//     clean one (a dot written synced before it is replicated, as a
//     resolution at a merge point is, counts as synced; a coordinator's
//     write does not: it is replicated while its own sync runs), so no
//     incarnation that lived through a loss is continued;
//   - nothing the node has seen claims more: if the other copies of the key
//     (a merge, or the causal context a client read) hold a higher counter
//     for the incarnation than the local copy, the local copy is behind and
//     a new incarnation is minted.
//
// An incarnation is minted while its key has no local copy of it, applies
// its dots to the local copy first (before replicating), and the local
// copy only grows (merges are monotone) until a range deletion or a crash,
// which the floors cover. So the local counter of a continued incarnation
// is the last it issued, and the next dot is new.
//
// A purged tombstone is the one deletion of a single key: after a purge
// the key has no local copy, so the next write mints an incarnation. An
// older copy of the key arriving after the purge would also resurrect
// deleted values, so the purge already requires that none survives (the
// grace period outlasts hint delivery).
//
// A key's clock therefore holds at most one entry per node and per time
// that node forgot the key — never one per client.
//
// [Choose] and [Name] are pure; [Book] keeps the sequence and the floors in
// the node's store.
package actor
