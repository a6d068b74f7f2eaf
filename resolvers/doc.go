// Package resolvers runs concord's WebAssembly resolvers: small programs,
// uploaded per namespace, that merge the sibling versions of a key.
//
// The ABI guests implement is described in ABI.md next to this file; its
// wire format lives in package [github.com/concord-kv/concord/resolvers/abi].
// Non-obvious choices are explained in RATIONALE.md.
//
// # Use
//
// A node makes one [Runtime] ([NewRuntime], with the cluster admin's caps
// in [Options].MaxLimits), compiles each uploaded module once
// ([Runtime.Compile], which also validates it against ABI v1 and its shape
// against the compile-cost limits, and returns a [*ModuleError] naming what
// to fix), checks a namespace's limits against the caps
// ([Runtime.CheckLimits]), and keeps one [Pool] per (namespace, module hash)
// ([NewPool]). [Pool.ResolveWithin] (or [Pool.Resolve]) merges siblings:
//
//	res, err := pool.ResolveWithin(ctx, abi.Input{Key: key, Siblings: siblings}, deadline)
//	switch {
//	case err != nil:
//		// *CallError, ErrBreakerOpen, ...: keep the siblings as they are.
//	case res.Status == abi.StatusOK:
//		// res.Value is the merged value.
//	case res.Status == abi.StatusDelete:
//		// the merge is a tombstone.
//	case res.Status == abi.StatusDefer:
//		// keep the siblings.
//	}
//
// The caller computes the merged causal context; the guest only sees values.
//
// # Safety
//
// Every call runs under a deadline ([Limits].Deadline), which holds for
// every module: Compile rewrites each module so that it counts its work at
// every function entry and loop header and checks in with the host, which
// stops it at its deadline or when its call stack budget is spent
// (RATIONALE.md). Memory is capped ([Limits].MemoryPages), and so are
// tables and output ([Limits].MaxOutputBytes). An instance that failed in
// any way (trap, timeout, exit, bad status or output, guest ERROR) is
// discarded, never pooled again. A per-pool circuit breaker ([Breaker])
// stops calling a module after consecutive failures, or at its first
// deadline timeout, with a cool-down that doubles while its probes fail;
// failures and the breaker opening are logged with the namespace. Guests
// get WASI with no files, environment, arguments or network, fixed clocks
// and a seeded random stream, so resolution is deterministic.
//
// # Concurrency
//
// [Runtime], [Module] and [Pool] are safe for concurrent use. [Breaker] is
// not (pools guard theirs).
package resolvers
