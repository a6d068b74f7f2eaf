package nsstats

import (
	"sync"
	"sync/atomic"
	"time"
)

// Keeper counts one node's numbers of each namespace. It keeps numbers
// only for namespaces that exist (exists, given to [NewKeeper], decides),
// so a client naming namespaces at random cannot grow it; [Keeper.Retain]
// forgets deleted ones. Counting is lock-free once a namespace's numbers
// exist. It is safe for concurrent use.
type Keeper struct {
	exists func(ns string) bool

	mu sync.RWMutex
	m  map[string]*entry
}

// entry is one namespace's live counters.
type entry struct {
	ops      [opCount]opEntry
	versions [Versions]atomic.Uint64
	repaired atomic.Uint64
	resolver Histogram

	mu         sync.Mutex
	rejections map[string]uint64
}

// opEntry is one operation's counters. Successes and each error code are
// counted apart (requests are their sum), so that each only grows,
// whatever a snapshot meets in flight.
type opEntry struct {
	ok      atomic.Uint64
	latency Histogram

	mu     sync.Mutex
	errors map[string]uint64
}

// NewKeeper returns a keeper that counts the namespaces exists reports.
func NewKeeper(exists func(ns string) bool) *Keeper {
	return &Keeper{exists: exists, m: map[string]*entry{}}
}

// entry returns ns's counters, creating them if ns exists; nil otherwise.
func (k *Keeper) entry(ns string) *entry {
	k.mu.RLock()
	e := k.m[ns]
	k.mu.RUnlock()
	if e != nil || ns == "" || !k.exists(ns) {
		return e
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e = k.m[ns]; e == nil {
		e = &entry{}
		k.m[ns] = e
	}
	return e
}

// Request counts a client request of ns that took d and was answered with
// code ("" or "ok": success).
func (k *Keeper) Request(ns string, op Op, code string, d time.Duration) {
	e := k.entry(ns)
	if e == nil || op < 0 || op >= opCount {
		return
	}
	o := &e.ops[op]
	o.latency.Observe(d)
	if code == "" || code == "ok" {
		o.ok.Add(1)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.errors == nil {
		o.errors = map[string]uint64{}
	}
	o.errors[code]++
}

// Read counts a client read of ns whose answer held versions live
// versions; a read that found nothing (0) is not counted.
func (k *Keeper) Read(ns string, versions int) {
	if versions <= 0 {
		return
	}
	if e := k.entry(ns); e != nil {
		e.versions[min(versions, Versions)-1].Add(1)
	}
}

// Rejected counts a request of ns refused by the rate limit or quota
// named limit.
func (k *Keeper) Rejected(ns, limit string) {
	e := k.entry(ns)
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rejections == nil {
		e.rejections = map[string]uint64{}
	}
	e.rejections[limit]++
}

// Repaired counts keys of ns repaired (by read repair or anti-entropy).
func (k *Keeper) Repaired(ns string, keys int) {
	if keys <= 0 {
		return
	}
	if e := k.entry(ns); e != nil {
		e.repaired.Add(uint64(keys))
	}
}

// Resolved counts a resolution of ns's resolver that took d.
func (k *Keeper) Resolved(ns string, d time.Duration) {
	if e := k.entry(ns); e != nil {
		e.resolver.Observe(d)
	}
}

// Snapshot returns what the keeper counted of ns: the operations with
// their quantiles and histograms, reads by versions, rejections, keys
// repaired and the resolver's latency. The fields other parts know
// (resolver calls, hints, stored bytes) are left for the caller to fill.
func (k *Keeper) Snapshot(ns string) Stats {
	s := Stats{Namespace: ns, Operations: emptyOperations()}
	k.mu.RLock()
	e := k.m[ns]
	k.mu.RUnlock()
	if e == nil {
		return s
	}
	for i := range e.ops {
		o, so := &e.ops[i], &s.Operations[i]
		so.Latency = o.latency.Snapshot()
		so.P50, so.P99, so.P999 = so.Latency.Quantile(0.5), so.Latency.Quantile(0.99), so.Latency.Quantile(0.999)
		o.mu.Lock()
		so.Errors = cloneCounts(o.errors)
		o.mu.Unlock()
		so.Requests = o.ok.Load()
		for _, c := range so.Errors {
			so.Requests += c
		}
	}
	for i := range e.versions {
		s.ReadsByVersions[i] = e.versions[i].Load()
	}
	s.KeysRepaired = e.repaired.Load()
	s.Resolver.Latency = e.resolver.Snapshot()
	s.Resolver.P99 = s.Resolver.Latency.Quantile(0.99)
	e.mu.Lock()
	s.Rejections = cloneCounts(e.rejections)
	e.mu.Unlock()
	return s
}

// Retain forgets the numbers of the namespaces keep refuses (deleted
// ones).
func (k *Keeper) Retain(keep func(ns string) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for ns := range k.m {
		if !keep(ns) {
			delete(k.m, ns)
		}
	}
}
