// Command benchpeers measures concord and its peers with the same load, on
// one machine and in one run (issue 11, item 2): raw Pebble in this
// process, a bare Connect handler of concord's KV service in a process of
// its own, Redis with every write fsynced, a 3-node etcd and a 3-node
// concord; with --baseline, also the same 3-node concord started from an
// earlier build, to compare two builds in one run. Every peer is driven by the load generator of `concord bench`
// (internal/bench and its YCSB workloads), so the key choices, the closed
// loop and the HDR histograms are the same for all of them.
//
//	benchpeers run --concord bin/concord [--baseline bin/concord-base] [--peers concord,etcd] [--quick]
//
// `make bench-peers` builds concord and this program and runs it; see
// docs/benchmarks.md for what is measured and the latest results.
//
// Choices:
//
//   - Peers run one at a time. Each round starts every peer fresh (new data
//     directories), loads it, runs the cells and stops it before the next
//     starts, so one peer's background work (compactions, gossip, Raft
//     heartbeats) never lands in another's numbers. Even rounds run the
//     peers in reverse order; the table shows medians over the rounds.
//     The baseline build runs right before concord, so each of the two
//     goes first in every other round.
//   - Writes are durable everywhere: Pebble sets with pebble.Sync, Redis
//     with appendfsync always, etcd fsyncs its Raft log, and concord's
//     namespace has durability sync (N=3, R=2, W=2).
//   - CPU per operation is read from /proc/PID/stat of every server
//     process of a peer, before and after the measured part of the cell.
//     Pebble has no server process: its CPU is this whole process's, load
//     generator included. The CPU the rest of the machine used meanwhile
//     is reported too, to show a run disturbed by other load.
//   - The concord and bare peers use the same Go SDK clients, so between
//     them only the server differs. Redis is driven with go-redis and etcd
//     with its own v3 client; those clients' costs differ from the SDK's
//     and show in the client CPU column.
//
// It is a module of its own so that the etcd and Redis clients stay out of
// concord's go.mod; a replace directive points it at the repository, so it
// can use concord's internal packages (internal import rules go by path).
package main
