// Package faultlab is concord's multi-process fault lab: it runs real
// `concord serve` processes, each in its own Linux network namespace on a
// bridge, drives concurrent read-merge-write and blind-write workloads
// through partitions (nftables), kill -9 and restarts, SIGSTOP/SIGCONT,
// leave and rejoin, and a whole-cluster cold restart, and then checks, as
// Jepsen's set checker does, that every acknowledged write is still there.
//
// It has no non-test code. TestFaultLab is the short schedule CI runs (it
// needs root, iproute2 and nftables, which it installs when missing);
// `make soak` runs it with FAULTLAB_CYCLES fault cycles (the soak) and
// prints the summary table. docs/development.md describes both.
package faultlab
