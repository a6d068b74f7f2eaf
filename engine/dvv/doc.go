// Package dvv tracks the causality of concord's values with DVVSets: dotted
// version vector sets (P. S. Almeida, C. Baquero, R. Gonçalves, N. Preguiça,
// V. Fonte, "Scalable and Accurate Causality Tracking for Eventually
// Consistent Stores", DAIS 2014), as in Riak's dvvset.
//
// # Model
//
// Every write is named by a [Dot]: the server node that coordinated it (the
// actor) and that node's counter for the key. An [Object] keeps, per actor,
// one counter and the list of that actor's values that are still live, newest
// first: value i of actor a has the dot (a, counter-i), and the counter says
// that every earlier dot of a has been seen. The join of the counters,
// [Object.Context], is the version vector of everything the object has seen;
// it is what a client gets back as an opaque token ([EncodeContext]) when it
// reads, and passes back when it writes.
//
//   - [Object.Update] runs on the coordinator of a write: it drops the values
//     the client's context covers (the client has seen them, so its write
//     supersedes them), and adds the new value with a fresh dot. A write
//     without a context, or with a stale one, keeps what it did not see:
//     concurrent writes become siblings and nothing is lost.
//   - [Sync] merges the objects of two replicas (replication, read repair,
//     anti-entropy, handoff). A value survives unless the other side's clock
//     covers its dot and the other side no longer holds it. Sync is
//     commutative, associative and idempotent, so replicas converge whatever
//     the order of the exchanges.
//
// A delete is a write of a tombstone sibling ([Sibling.Tombstone]): it carries
// causality like any value, so it cannot be undone by a replica that missed
// it. There are no "anonymous" values: every value carries a dot.
//
// # Why server actors
//
// The actors are server node IDs, not clients: the clock of a key grows with
// the number of nodes that ever coordinated a write for it (bounded by the
// cluster size), not with the number of clients. The dot in the DVVSet keeps
// what plain server-actor version vectors lose: two clients writing through
// the same node with stale contexts get two siblings, not a silent overwrite.
//
// This is correct only if an actor never issues the same dot twice: a node
// must apply [Object.Update] to an object holding the actor's last dot for
// the key, and must use a new actor whenever it cannot be sure it holds it
// (concord's nodes use incarnations of their IDs: package engine/actor).
// [Sync] assumes that equal dots mean equal values.
//
// # Why no pruning
//
// Riak prunes old entries of version vectors when they grow; a pruned clock
// no longer covers what it covered, so later merges produce false conflicts
// or drop updates. concord never prunes: with server actors the clock is
// already small, and correctness is worth a few bytes per retired node.
//
// # Encodings
//
// [Object.MarshalBinary] and [EncodeContext] produce compact varint
// encodings whose first byte is the format version (1). [Unmarshal] and
// [DecodeContext] accept only canonical encodings, reject sizes the input
// cannot hold before allocating, and never panic: contexts come from clients
// and must be treated as untrusted. An empty context token means "no
// context" (a blind write).
//
// Contexts are not authenticated here. A forged context could claim that
// the client saw more than it did, and every actor it names is kept in the
// key's clock, so a server must accept only contexts it issued (concord
// seals them: package engine/ctxseal). [MaxCounter] bounds the counters a
// decoded context may name, so even a forged one cannot exhaust an actor's
// counters.
//
// # Purity and goroutine safety
//
// The package does no IO, reads no clock (the caller passes
// [Sibling.Timestamp]), starts no goroutines and imports nothing of concord.
// [Clock] and [Object] are immutable values: every operation returns a new
// value, so both are safe for concurrent use. Value bytes returned by
// [Object.Siblings] are shared with the object and must not be modified.
package dvv
