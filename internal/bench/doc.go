// Package bench runs YCSB-style load against a key-value store and reports
// throughput, latency percentiles (HDR histograms), errors by code and,
// where the nodes' /metrics can be read, cluster CPU per operation.
//
// The workload shapes and key distributions are the pure package
// [ycsb]; this package adds the clients, the clock and the report. The
// store is behind the small [Store] interface, so the same load shape can
// later be pointed at peers (issue 11, item 2).
//
// Latency is measured from the moment an operation was due: in the default
// closed loop that is when the client issued it; in the open loop (a fixed
// Rate) it is the operation's slot in the schedule, so a stalled server is
// charged for the queue that builds up behind it (no coordinated omission).
package bench
