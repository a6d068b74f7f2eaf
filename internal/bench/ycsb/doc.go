// Package ycsb holds the pure parts of a YCSB-style load generator: the core
// workloads (A, B, C, D, F), their operation mix, key names, and the
// request distributions of YCSB's generators (zipfian, scrambled zipfian,
// uniform, latest) with YCSB's constants.
//
// Like the engine's pure cores (STYLE.md, habit 1) it does no IO, starts no
// goroutines and never reads the clock. Randomness comes from a [Rand] the
// caller seeds, so a sequence is the same for the same seed. No type here is
// safe for concurrent use: give every load-generating client its own.
package ycsb
