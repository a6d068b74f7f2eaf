// Package nsstats holds a namespace's numbers: what one node counted of its
// client requests (per operation: requests, errors by code, a latency
// [Histogram]), of its reads by the number of versions they saw (the
// Dynamo paper's §6.3 measure of divergence), of its resolver calls, its
// rejections by a rate limit or quota, and of the keys repaired; and how
// the nodes' numbers add up to the cluster's ([Total]).
//
// A [Keeper] is where a node counts them: the server counts requests,
// reads and rejections, the node's parts count repairs and resolver
// latency, and the node assembles a [Stats] on demand (with what other
// parts know: resolver calls and breaker, hints, stored bytes). The same
// Stats answer the admin API (summed over the nodes) and /metrics, so the
// two never disagree.
//
// The package is pure: no IO, no goroutines, no clock (durations are
// measured by the caller).
package nsstats

import (
	"maps"
	"time"
)

// Op is a kind of client request.
type Op int

// The client operations counted.
const (
	OpGet Op = iota
	OpPut
	OpDelete
	OpList
	opCount
)

var opNames = [opCount]string{OpGet: "get", OpPut: "put", OpDelete: "delete", OpList: "list"}

// String is the operation's name: get, put, delete or list.
func (o Op) String() string { return opNames[o] }

// Versions is the number of buckets of [Stats.ReadsByVersions]: reads that
// saw 1, 2, 3, and 4 or more versions.
const Versions = 4

// Stats are a namespace's numbers on one node, or summed over the cluster
// ([Total]). Maps are nil when empty.
type Stats struct {
	Namespace string
	// Node is the node's ID; empty for a cluster total.
	Node string
	// Operations are get, put, delete and list, in that order.
	Operations []Operation
	// ReadsByVersions counts the reads that found the key by how many
	// live versions (siblings) their answer held: index 0 is one version,
	// 3 is four or more.
	ReadsByVersions [Versions]uint64
	Resolver        Resolver
	// Rejections counts requests refused by a rate limit or quota, by the
	// limit's name.
	Rejections map[string]uint64
	// Hints is the number of hints the node keeps for other nodes.
	Hints uint64
	// KeysRepaired counts the keys read repair and anti-entropy fixed.
	KeysRepaired uint64
	// StoredKeys and StoredBytes are what the node stores of the
	// namespace, every replica it holds (a cluster total: one replica).
	StoredKeys, StoredBytes uint64
}

// Operation is one kind of client request's numbers.
type Operation struct {
	Name     string // get, put, delete or list
	Requests uint64
	// Errors counts the requests answered with an error, by code name.
	Errors map[string]uint64
	// P50, P99 and P999 are latency quantiles (of a total: the largest of
	// the nodes').
	P50, P99, P999 time.Duration
	// Latency is the node's histogram; empty in a total or an answer from
	// another node.
	Latency Buckets
}

// Resolver is the namespace's resolver calls.
type Resolver struct {
	Calls uint64
	// Failures counts failed calls by kind.
	Failures map[string]uint64
	// CPU is the time the calls ran in the resolver.
	CPU time.Duration
	// P99 is the 99th percentile of a resolution's duration.
	P99 time.Duration
	// Breaker is the circuit breaker's state: closed, half-open or open
	// (of a total: the worst).
	Breaker string
	// Latency is the node's histogram of resolutions, as Operation's.
	Latency Buckets
}

// Breaker states, best first.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// breakerRank orders breaker states: the larger, the worse.
func breakerRank(s string) int {
	switch s {
	case BreakerOpen:
		return 3
	case BreakerHalfOpen:
		return 2
	case BreakerClosed:
		return 1
	}
	return 0
}

// Total adds up the nodes' numbers of one namespace whose keys are stored
// n times: counts are summed; a quantile is the largest of the nodes'; the
// breaker is the worst; stored keys and bytes are divided by n (one
// replica counted).
func Total(nodes []Stats, n int) Stats {
	t := Stats{Operations: emptyOperations(), Resolver: Resolver{Breaker: BreakerClosed}}
	for _, s := range nodes {
		t.Namespace = s.Namespace
		for _, o := range s.Operations {
			i := opIndex(o.Name)
			if i < 0 {
				continue
			}
			to := &t.Operations[i]
			to.Requests += o.Requests
			to.Errors = addCounts(to.Errors, o.Errors)
			to.P50, to.P99, to.P999 = max(to.P50, o.P50), max(to.P99, o.P99), max(to.P999, o.P999)
		}
		for i, c := range s.ReadsByVersions {
			t.ReadsByVersions[i] += c
		}
		r := &t.Resolver
		r.Calls += s.Resolver.Calls
		r.Failures = addCounts(r.Failures, s.Resolver.Failures)
		r.CPU += s.Resolver.CPU
		r.P99 = max(r.P99, s.Resolver.P99)
		if breakerRank(s.Resolver.Breaker) > breakerRank(r.Breaker) {
			r.Breaker = s.Resolver.Breaker
		}
		t.Rejections = addCounts(t.Rejections, s.Rejections)
		t.Hints += s.Hints
		t.KeysRepaired += s.KeysRepaired
		t.StoredKeys += s.StoredKeys
		t.StoredBytes += s.StoredBytes
	}
	if n > 0 {
		t.StoredKeys /= uint64(n)
		t.StoredBytes /= uint64(n)
	}
	return t
}

// emptyOperations are the operations with nothing counted.
func emptyOperations() []Operation {
	out := make([]Operation, opCount)
	for i := range out {
		out[i].Name = Op(i).String()
	}
	return out
}

func opIndex(name string) int {
	for i, n := range opNames {
		if n == name {
			return i
		}
	}
	return -1
}

// addCounts adds b's counts to a (allocated when needed) and returns it.
func addCounts(a, b map[string]uint64) map[string]uint64 {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]uint64, len(b))
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// cloneCounts copies a map of counts; nil when empty.
func cloneCounts(m map[string]uint64) map[string]uint64 {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
