// Package membership is a concord node's view of its cluster: who is in it
// and alive (SWIM gossip through [github.com/hashicorp/memberlist]), and a
// replica of the cluster-metadata documents every node must agree on (the
// ring, the namespaces, token hashes, resolver module hashes).
//
// # Members
//
// [New] starts memberlist with an unexported delegate, as
// hashicorp/serf does; [Membership.Join] contacts seeds. Each node gossips
// its [Meta] (peer and API addresses, zone), encoded compactly to fit
// memberlist's 512-byte limit. The member table ([Membership.Members])
// keeps every member ever seen, dead and left ones included, because
// liveness is not ownership (DESIGN §3): a dead node keeps its partitions.
// Changes are reported on [Membership.Events], a buffered channel that
// never blocks memberlist (when full, the oldest event is dropped; the
// table stays the truth).
//
// memberlist only tells its delegates "joined", "updated" and "left or
// failed", so this package adds two things serf also adds:
//
//   - a leave notice, broadcast by [Membership.Leave] and relayed once by
//     every node, and listed in push/pull state, so that a member that left
//     is recorded as [Left] and not [Dead];
//   - a reconnect loop (Config.ReconnectInterval): memberlist gossips to
//     dead members only for a while and push/pulls only with live ones, so
//     after a long partition neither side would contact the other again.
//     Every interval the node joins one random dead member.
//
// memberlist does not expose suspicion; a suspected member is reported
// [Alive] until it is declared dead.
//
// # Documents
//
// A [Doc] is a named, versioned blob. The merge rule is a total order:
// higher Version wins, and equal Versions are broken by the larger SHA-256
// of Data, so concurrent edits converge everywhere to the same winner
// ([Doc.Supersedes]). A node accepts a document when it supersedes its copy
// and then calls Config.OnDoc (one goroutine, acceptance order) so the node
// can persist it. Liveness changes never touch documents.
//
// Documents spread three ways:
//
//   - Broadcast: an accepted document is queued in a memberlist
//     TransmitLimitedQueue (named, so a newer version replaces an older one
//     still queued) and piggybacks on gossip and probe packets. Receivers
//     that accept it queue it again, so it spreads epidemically.
//   - Announce and pull: memberlist never sends a broadcast larger than one
//     UDP packet (UDPBufferSize, 1400 bytes by default). A larger document
//     is announced instead ({name, version, digest, holder}); a node that
//     learns of a newer version starts a push/pull with the holder, which
//     runs over TCP and carries the whole document set.
//   - Anti-entropy: every push/pull (memberlist's periodic full-state
//     exchange with a random live node, every join, every reconnect)
//     carries every document, so a node that missed broadcasts, was
//     partitioned away or was down converges on the next exchange.
//
// Because every push/pull carries the full set, documents are meant to be
// small (kilobytes to a few MiB, [MaxDocSize] each); memberlist refuses
// remote state above 20 MiB. Resolver module bytes do not belong here: the
// documents carry their hashes and modules travel over peer RPC.
//
// # Concurrency
//
// A [Membership] is safe for concurrent use. memberlist calls the delegate
// from its own goroutines, sometimes holding its node lock, so the delegate
// never blocks and never calls back into memberlist; the package's own lock
// is never held while calling memberlist. Close waits for the package's
// goroutines (reconnects, pulls, OnDoc), but memberlist's Shutdown does not
// wait for a probe already in flight; it ends after its own timeout.
//
// # Testing
//
// Package [github.com/concord-kv/concord/engine/membership/memnet] is an
// in-memory transport with packet loss, partitions and isolation. With it,
// whole clusters run inside a [testing/synctest] bubble on fake time, so
// suspicion timeouts and push/pull intervals of tens of seconds take
// milliseconds. memberlist's network transport cannot run in a bubble
// (sockets block in the network poller, which synctest does not count as
// durably blocked); one test uses it on loopback in real time.
package membership
