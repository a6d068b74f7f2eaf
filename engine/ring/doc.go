// Package ring places concord's data: Dynamo's partitioning strategy 3
// (DeCandia et al., SOSP 2007, §6.2) — Q equal partitions, each owned by one
// node, with a claim algorithm that keeps the ownership balanced.
//
// # Model
//
// The key space is cut into Q partitions (a power of two, [DefaultQ] by
// default, fixed when the cluster is created); a key's partition is the top
// bits of its placement hash, computed by the caller (engine/keys). A
// [Ring] is one version of the assignment of partitions to owners plus the
// member list with zones. Its [Ring.Epoch] orders versions: a ring change is
// staged, shown as a [Plan] of [Transfer]s, and committed as the next epoch.
// For gossip, [Compare] and [Newer] pick the same winner on every node: the
// higher epoch, ties broken by the canonical encodings.
//
// The replicas of partition p live on its preference list
// ([Ring.PreferenceList]): the first n distinct owners found walking p, p+1,
// … around the ring.
//
// # Claim properties
//
// [New] lays out the first ring, [Rebalance] computes the next one for a new
// member set. With k members, replication factor n and Q partitions, every
// ring they return has:
//
//  1. Balance: partition counts differ by at most one between nodes.
//  2. Spread: any n consecutive partitions (wrapping) have n distinct owners
//     when k > n, or when k = n and n divides Q; so every preference list is
//     n consecutive partitions. With k = n not dividing Q, or k < n, no
//     assignment can do this; the ring then keeps the widest window it can
//     distinct (k if k divides Q, else k-1).
//     Zones: when members have at least n distinct zones, the claim also
//     keeps any n consecutive partitions in distinct zones wherever it can.
//     This is guaranteed when all zones hold the same number of members and
//     there are at least n+1 zones. It is impossible in general (with
//     exactly n zones it needs n to divide Q, so never for 3 zones and
//     n = 3; with unequal zones a large zone cannot be spread thin enough),
//     and the claim then minimises the number of conflicts.
//  3. Little movement, without zones (fewer than n distinct zones, e.g. all
//     members in one zone): when node k+1 joins a ring of k nodes, at most
//     ⌈Q/(k+1)⌉+n partitions change owner, provided the old ring already
//     kept windows of n distinct (k > n, or k = n dividing Q). When a node
//     leaves and k' nodes remain, only the leaver's partitions plus at most
//     n others move, provided k' > 2n. With fewer, the nodes near the
//     leaver's partitions (up to 2(n-1) of them within reach of each) may
//     leave too few nodes able to take them — with a plain stripe none at
//     all when k' = n+1 — and the claim moves more to keep 1 and 2. These
//     bounds are property-tested for rings built by New and Rebalance with
//     up to 12 nodes, Q in {64, 128, 256, 1024} and n in 1..5.
//     With zones, spreading zones takes precedence over movement.
//
// Properties 1 and 2 take precedence over 3: if the incremental claim cannot
// keep them, Rebalance lays the ring out afresh, renamed and rotated to
// agree with the old ring as much as it can.
//
// # Algorithm
//
// Rebalance starts from the current assignment. Targets are ⌊Q/k⌋ or
// ⌈Q/k⌉ partitions per node, the larger for those that hold the most now.
// The partitions of departed nodes go to nodes below target, most
// constrained partition first, along augmenting paths when needed. Each new
// node then walks the ring taking evenly spaced partitions from the nodes
// with the most to give, at positions where it conflicts with nothing; every
// start offset within one stride is tried. Leftovers are topped up one by
// one, and a repair pass swaps owners to remove the few conflicts left. If
// any remain, the result is compared (conflicts, then zone conflicts, then
// moved partitions) with a fresh striped layout — owner[p] = order[p mod k], with a few
// positions skipped when k does not divide Q, the order interleaving zones —
// and the better one wins. New builds the first ring by joining the members
// one by one to a stripe of n+1, so that nodes have varied neighbours and
// later leaves move little.
//
// # Determinism and goroutine safety
//
// Everything depends only on the arguments: members are sorted by ID, ties
// are broken by index, no map order leaks. The same inputs give the same
// ring on every node and every run. The package does no IO, starts no
// goroutines, reads no clock and imports nothing of concord. A [Ring] is an
// immutable value, safe for concurrent use.
package ring
