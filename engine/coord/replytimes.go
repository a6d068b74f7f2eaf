package coord

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// replyTimes keeps, for each node this coordinator reads from, a moving
// average of how long its reads took to answer (as TCP smooths round-trip
// times: each new sample weighs replyWeight). A coordinator asks the
// nodes it expects to answer first: a read asks R of the N replicas, and
// a synced write asks DW-1 of them to sync, and with a fixed order both
// waited on a replica that was busy (receiving hints, a handoff or a
// repair) for the keys it came first for, while another answered in a
// fraction of the time (docs/performance.md, session 16).
//
// Only answers count: a node that fails does so for a reason gossip or
// the trackers' fallbacks deal with. A node not read from yet has no
// average and is tried first, so that it gets one. The reads that ask
// every replica (Options.FullReadChance) and the answers that come after
// a read was decided keep the averages of the nodes not chosen current;
// with no full reads, a node that was slow keeps its average until the
// others' rise past it (reads go elsewhere meanwhile, which is the point).
type replyTimes struct {
	m sync.Map // node ID → *atomic.Int64: its average, in nanoseconds
}

// replyWeight is the weight of a new sample in a node's average (1/8, as
// TCP's smoothed round-trip time).
const replyWeight = 8

// observe records that a read from node id answered after d.
func (r *replyTimes) observe(id string, d time.Duration) {
	v, ok := r.m.Load(id)
	if !ok {
		v, _ = r.m.LoadOrStore(id, new(atomic.Int64))
	}
	avg := v.(*atomic.Int64)
	for {
		old := avg.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/replyWeight
		}
		if next == 0 {
			next = 1 // zero means no sample
		}
		if avg.CompareAndSwap(old, next) {
			return
		}
	}
}

// average returns node id's average; zero when it has no sample.
func (r *replyTimes) average(id string) time.Duration {
	if v, ok := r.m.Load(id); ok {
		return time.Duration(v.(*atomic.Int64).Load())
	}
	return 0
}

// fastestFirst returns the preference list ids ordered by expected reply
// time, fastest first: nodes with no sample first, ties in the given
// order. ids is not modified.
func (r *replyTimes) fastestFirst(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	sorted, prev := true, time.Duration(0)
	for _, id := range ids { // the common case, already in order, allocates nothing
		a := r.average(id)
		sorted, prev = sorted && a >= prev, a
	}
	if sorted {
		return ids
	}
	avg := make([]time.Duration, len(ids))
	for i, id := range ids {
		avg[i] = r.average(id)
	}
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(avg[a], avg[b]) })
	out := make([]string, len(ids))
	for i, j := range idx {
		out[i] = ids[j]
	}
	return out
}
