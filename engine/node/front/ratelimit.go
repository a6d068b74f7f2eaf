package front

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/replica"
)

// Names of the request rate limits, as errs.LimitError.Limit and the
// update_mask fields (limits.<name>) call them.
const (
	LimitReadsPerSecond      = "reads_per_second"
	LimitWritesPerSecond     = "writes_per_second"
	LimitWriteBytesPerSecond = "write_bytes_per_second"
)

// NodeShare is the part of a cluster-wide rate one node of a ring of
// members enforces: perSecond/members rounded up; members below 1 count
// as 1.
//
// A namespace's reads_per_second and writes_per_second are cluster-wide
// figures, but nodes do not talk to each other to enforce them: each node
// allows its share. Clients whose requests are spread over the nodes (a
// load balancer) get about the configured rate; one that sends everything
// to a single node gets that node's share, and rounding up lets a cluster
// take slightly more than the rate, never less. Each node's bucket holds
// one second of its share (at least one request), so a quiet namespace may
// burst that much. Only client requests are counted, once, by the node the
// client called: a write that node forwards to a coordinator, replication,
// read repair, hints, anti-entropy and handoff are never limited.
func NodeShare(perSecond uint32, members int) uint32 {
	return uint32(nodeShare(uint64(perSecond), members))
}

// nodeShare is NodeShare of a rate of any size (bytes per second too).
func nodeShare(perSecond uint64, members int) uint64 {
	m := uint64(max(members, 1))
	return (perSecond + m - 1) / m
}

// rateLimiter holds one token bucket per namespace and limit. It follows
// the namespace's settings on every call, so a changed limit (or ring size)
// takes effect at the next request; [rateLimiter.changed] drops the
// buckets of a deleted namespace and of a lifted limit. It reads no clock: callers pass the time. It is
// safe for concurrent use.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	// lastRefusal is when a bucket last refused a request (unix
	// nanoseconds of the caller's clock; zero: never).
	lastRefusal atomic.Int64
}

type bucketKey struct{ namespace, limit string }

type bucket struct {
	incarnation uint64 // a new incarnation of the namespace starts afresh
	share       uint64 // requests (or bytes) per second this node allows
	lim         *rate.Limiter
}

func newRateLimiter() *rateLimiter {
	return &rateLimiter{buckets: make(map[bucketKey]*bucket)}
}

// take counts one request of namespace ns against its limit (perSecond
// across a ring of members). Over the limit it returns an
// *errs.LimitError with the delay after which the request would be taken.
func (l *rateLimiter) take(ns meta.Namespace, limit string, perSecond uint32, members int, now time.Time) error {
	return l.takeN(ns, limit, uint64(perSecond), 1, members, now)
}

// takeN counts n units (requests, or bytes) of namespace ns against its
// limit of perSecond across a ring of members. n above one second of this
// node's share counts as that second (a single write larger than the
// share passes once the bucket is full, and empties it).
func (l *rateLimiter) takeN(ns meta.Namespace, limit string, perSecond uint64, n int, members int, now time.Time) error {
	if perSecond == 0 {
		return nil // unlimited; a bucket left from before is dropped by changed
	}
	share := nodeShare(perSecond, members)
	l.mu.Lock()
	defer l.mu.Unlock()
	k := bucketKey{ns.Name, limit}
	b := l.buckets[k]
	switch {
	case b == nil || b.incarnation != ns.Incarnation:
		b = &bucket{incarnation: ns.Incarnation, share: share, lim: rate.NewLimiter(rate.Limit(share), int(min(share, math.MaxInt32)))}
		l.buckets[k] = b
	case b.share != share:
		b.lim.SetLimitAt(now, rate.Limit(share))
		b.lim.SetBurstAt(now, int(min(share, math.MaxInt32)))
		b.share = share
	}
	n = min(max(n, 1), int(min(share, math.MaxInt32)))
	if b.lim.AllowN(now, n) {
		return nil
	}
	l.lastRefusal.Store(now.UnixNano())
	return refusal(ns, limit, perSecond, share, members, n, b.lim.TokensAt(now))
}

// refusing returns the error takeN of any n would return now, without
// counting anything, when the bucket of ns and limit holds less than one
// token: a refused request takes nothing from its bucket (rate.Limiter
// changes nothing when it refuses), so until the bucket refills every
// request is refused, and one decided here is decided as takeN would
// decide it. Otherwise — the bucket would take a request, or it is not
// made yet, or it follows settings that have changed since (its share or
// the namespace's incarnation) — it returns nil and leaves the decision to
// takeN.
func (l *rateLimiter) refusing(ns meta.Namespace, limit string, perSecond uint64, members int, now time.Time) error {
	if perSecond == 0 {
		return nil
	}
	share := nodeShare(perSecond, members)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[bucketKey{ns.Name, limit}]
	if b == nil || b.incarnation != ns.Incarnation || b.share != share {
		return nil
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return nil
	}
	l.lastRefusal.Store(now.UnixNano())
	return refusal(ns, limit, perSecond, share, members, 1, tokens)
}

// refusedSince reports whether a bucket refused a request at or after t.
func (l *rateLimiter) refusedSince(t time.Time) bool {
	last := l.lastRefusal.Load()
	return last != 0 && last >= t.UnixNano()
}

// refusal is the error of a request of n units that a bucket of share per
// second, holding tokens, refuses.
func refusal(ns meta.Namespace, limit string, perSecond, share uint64, members, n int, tokens float64) *errs.LimitError {
	return &errs.LimitError{
		Limit: limit, Max: perSecond, Actual: uint64(n), Exhausted: true,
		RetryAfter: retryAfter(tokens, float64(n), share),
		Hint: fmt.Sprintf("namespace %s allows %d per second across the cluster, %d per second on this node (the rate shared over %d ring members); slow down, spread requests over the nodes, or raise the limit (concord namespace update %s --%s N)",
			ns.Name, perSecond, share, max(members, 1), ns.Name, flagName(limit)),
	}
}

// retryAfter is the time until a bucket refilling at share per second
// holds need tokens again, rounded up to a millisecond.
func retryAfter(tokens, need float64, share uint64) time.Duration {
	ms := math.Ceil(max(need-tokens, 0) / float64(share) * 1000)
	return max(time.Duration(ms)*time.Millisecond, time.Millisecond)
}

func flagName(limit string) string {
	return strings.ReplaceAll(limit, "_", "-")
}

// changed drops the buckets a namespace no longer needs: both when it is
// deleted, a limit's when it is lifted (0). A changed rate is applied by
// the next take.
func (l *rateLimiter) changed(ns meta.Namespace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ns.Deleted || ns.Limits.ReadsPerSecond == 0 {
		delete(l.buckets, bucketKey{ns.Name, LimitReadsPerSecond})
	}
	if ns.Deleted || ns.Limits.WritesPerSecond == 0 {
		delete(l.buckets, bucketKey{ns.Name, LimitWritesPerSecond})
	}
	if ns.Deleted || ns.Limits.WriteBytesPerSecond == 0 {
		delete(l.buckets, bucketKey{ns.Name, LimitWriteBytesPerSecond})
	}
}

// size is the number of buckets held.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// members is the number of members of this node's ring; 1 without a ring.
func (f *Front) members() int {
	r, ok := f.cfg.Topology.Ring()
	if !ok {
		return 1
	}
	return max(len(r.Members()), 1)
}

// limitRead counts a client read of ns against its reads_per_second.
func (f *Front) limitRead(ns meta.Namespace) error {
	return f.limits.take(ns, LimitReadsPerSecond, ns.Limits.ReadsPerSecond, f.members(), f.cfg.Now())
}

// limitWrite counts a client write of namespace name against its
// writes_per_second; a namespace that does not exist is left to the
// write's own checks to report.
func (f *Front) limitWrite(name string) error {
	ns, err := f.namespace(name)
	if err != nil || ns.Limits.WritesPerSecond == 0 {
		return nil
	}
	return f.limits.take(ns, LimitWritesPerSecond, ns.Limits.WritesPerSecond, f.members(), f.cfg.Now())
}

// limitWriteBytes counts the size of the object a client write leaves
// (its live siblings and key) against the namespace's
// write_bytes_per_second. It runs under the key's lock, once the write's
// result is known. A delete stores no value and is never refused by it.
func (f *Front) limitWriteBytes(ns meta.Namespace, req PutRequest, next dvv.Object) error {
	if ns.Limits.WriteBytesPerSecond == 0 || req.Tombstone {
		return nil
	}
	size := replica.UsageOf(req.Key, next).Bytes
	return f.limits.takeN(ns, LimitWriteBytesPerSecond, ns.Limits.WriteBytesPerSecond, int(min(size, math.MaxInt32)), f.members(), f.cfg.Now())
}

// A RequestKind is what a client request does, as its rate limits see it.
type RequestKind int

const (
	// Read: a Get, counted against reads_per_second.
	Read RequestKind = iota
	// Write: a Put, counted against writes_per_second and
	// write_bytes_per_second.
	Write
	// Delete: counted against writes_per_second only (it stores no value).
	Delete
)

// Refusing returns the error a client request of kind in namespace name
// would get now from the namespace's rate limits, without counting the
// request. It decides only when a limit's bucket is empty, so that every
// request of the kind would be refused (a Put refused here by
// write_bytes_per_second would have passed writes_per_second, taken a
// request from it, run, and been refused once its size was known).
// Otherwise, and when the namespace does not exist, it returns nil, and the request
// takes its way through Get or Put, which count it.
//
// A server may ask before it decodes a request and answer those refused at
// once: for a tenant sending many times its limit, the requests refused
// are most of what it costs a node. It need not read a request to ask
// while [Front.RefusedRecently] is false.
func (f *Front) Refusing(name string, kind RequestKind) error {
	now := f.cfg.Now()
	ns, err := f.namespace(name)
	if err != nil {
		return nil
	}
	members := f.members()
	if kind == Read {
		return f.limits.refusing(ns, LimitReadsPerSecond, uint64(ns.Limits.ReadsPerSecond), members, now)
	}
	if err := f.limits.refusing(ns, LimitWritesPerSecond, uint64(ns.Limits.WritesPerSecond), members, now); err != nil || kind == Delete {
		return err
	}
	return f.limits.refusing(ns, LimitWriteBytesPerSecond, ns.Limits.WriteBytesPerSecond, members, now)
}

// RefusedRecently reports whether a rate limit of this node refused a
// request in the last second. While it is false, no bucket has run dry
// under a flood, and a server need not read requests to ask
// [Front.Refusing] about them.
func (f *Front) RefusedRecently() bool {
	return f.limits.refusedSince(f.cfg.Now().Add(-time.Second))
}

// NamespaceChanged lets the rate limits follow a namespace's settings:
// the node calls it for every change it stores, local or gossiped.
func (f *Front) NamespaceChanged(ns meta.Namespace) { f.limits.changed(ns) }
