// Package laws checks a resolver module before a namespace activates it.
//
// [resolvers.Runtime.Compile] already refuses a module that breaks the ABI's
// shape (marker, exports, imports). What it cannot see is how the module
// behaves: [Check] runs it on sibling sets built from values the uploader
// says are typical ([Sample]) and reports, per [Law], whether the module
// obeyed it and, if not, the first input that broke it ([Violation]).
//
// # Inputs
//
// From the samples, Check draws up to [Options].MaxInputs sibling sets
// (default 64): pairs and triples of values, with and without a tombstone,
// with a value repeated, timestamps close enough to tie, in shuffled
// orders. The draw depends only on the samples and [Options].Seed, so a
// report can be reproduced. Sets are tried smallest shapes first, so the
// reported input tends to be small.
//
// # Laws
//
//   - [LawABI]: every call returns a status. A trap, a timeout, a
//     proc_exit, an invalid status or an oversized output on a sample, or
//     an instance that cannot start (a start function or init that fails
//     or runs past the init deadline, an initial memory above the limit),
//     is reported with the input that caused it. A timeout is tried once
//     more on a new instance. After a timeout (or a module that cannot even
//     start an instance) Check stops: each further input would cost a full
//     deadline.
//   - [LawDeterminism]: each set is resolved on a fresh instance, then
//     twice on a warm one that has served every earlier set; the three
//     (status, output) pairs must be equal. A module that keeps state
//     between calls fails. The other laws are not checked on a set that
//     fails this one: their comparisons would measure the state, not the
//     merge.
//   - [LawOrderInsensitivity]: every other order of the set (at most 24)
//     gives the same outcome.
//   - [LawIdempotence]: a merged version m, resolved as [m, m] and as [m]
//     alone, gives m back.
//   - [LawAssociativity]: for a set a, b, c... (three siblings or more),
//     merge(merge(a, b), c...) and merge(a, merge(b, c...)) equal
//     merge(a, b, c...).
//
// Merged versions are fed back as siblings the way the server stores them:
// an OK result as a value, a DELETE result as a tombstone, with the latest
// timestamp of the siblings merged. A DEFER or ERROR result produces no
// version, so idempotence and associativity cannot be evaluated on that set:
// [Report].Undecided counts it; it is not a violation.
//
// # Refusal and warnings
//
// The ABI, determinism and order-insensitivity refuse an upload
// ([Report.Refused]). A module that fails on the uploader's own samples
// would fail in production, each failure costing a deadline. And in
// on_write mode every replica resolves the siblings it holds on its own,
// in whatever order they arrived and on whichever instance is idle, and the
// results must converge to one version. A module whose result depends on
// order or on the instance's history makes replicas diverge, and each
// anti-entropy round could produce yet another version.
//
// Idempotence and associativity are warnings. The server does not rely on
// them to converge: the same siblings are always collapsed the same way (the
// host merges the causal context, and the guest is deterministic and
// order-insensitive), so replicas agree. But a module that breaks them gives
// merges that are not stable. Two replicas that resolve the same siblings
// each write the result back, and the two copies later meet as siblings
// [m, m]: a merge that is not idempotent changes m again (a value that
// doubles). A merge that is not associative makes the value of three
// concurrent writes depend on which two met first, that is on the timing of
// the cluster. Usually that is a bug in the merge; sometimes (a counter that
// sums) it is intended.
//
// Check runs the module under [Options].Limits, which must be the
// namespace's: a module is accepted for the deadline and memory it will
// have.
//
// # Cost
//
// Each set costs a cold start ([resolvers.Pool.Warm], judged against the
// init deadline) and at most about 30 calls; with the defaults a check of a
// small module takes milliseconds. Check runs one call at a time
// on two pools of its own, closed when it returns.
package laws
