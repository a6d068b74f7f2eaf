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
	m sync.Map // node ID → *replyTime
}

// replyTime is one node's smoothed reply time and its mean deviation, in
// nanoseconds; zero when it has no sample. The two are updated one after
// the other, not as a pair: a concurrent sample may see one new and one
// old, which moves a heuristic by a fraction of a sample.
type replyTime struct {
	avg, dev atomic.Int64
}

// replyWeight is the weight of a new sample in a node's average (1/8, as
// TCP's smoothed round-trip time); devWeight the weight of its distance
// from the average in the mean deviation (1/4, as TCP's RTTVAR).
const (
	replyWeight = 8
	devWeight   = 4
)

// hedgeDeviations is how many mean deviations past its average a reply is
// late: as TCP's retransmission timeout (RFC 6298), average + 4 × deviation.
const hedgeDeviations = 4

// observe records that a read from node id answered after d.
func (r *replyTimes) observe(id string, d time.Duration) {
	v, ok := r.m.Load(id)
	if !ok {
		v, _ = r.m.LoadOrStore(id, new(replyTime))
	}
	rt := v.(*replyTime)
	for {
		old := rt.avg.Load()
		next, dist := int64(d), int64(d)/2 // a first sample: its deviation is half of it, as in TCP
		if old != 0 {
			next, dist = old+(int64(d)-old)/replyWeight, abs(int64(d)-old)
		}
		if next == 0 {
			next = 1 // zero means no sample
		}
		if rt.avg.CompareAndSwap(old, next) {
			if old == 0 {
				rt.dev.Store(dist)
			} else {
				dev := rt.dev.Load()
				rt.dev.Store(dev + (dist-dev)/devWeight)
			}
			return
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// average returns node id's average; zero when it has no sample.
func (r *replyTimes) average(id string) time.Duration {
	if v, ok := r.m.Load(id); ok {
		return time.Duration(v.(*replyTime).avg.Load())
	}
	return 0
}

// hedgeDelay is how long a read waits for the peers it asked before it
// asks the others: until the latest of them is late by its own record
// (its average plus hedgeDeviations mean deviations), within [floor,
// ceiling]. A peer with no record yet waits the ceiling, as every read
// did before reply times were kept; so does a read that asked no peer.
func (r *replyTimes) hedgeDelay(asked []string, floor, ceiling time.Duration) time.Duration {
	if len(asked) == 0 {
		return ceiling
	}
	var late time.Duration
	for _, id := range asked {
		v, ok := r.m.Load(id)
		if !ok {
			return ceiling
		}
		rt := v.(*replyTime)
		avg := rt.avg.Load()
		if avg == 0 {
			return ceiling
		}
		late = max(late, time.Duration(avg+hedgeDeviations*rt.dev.Load()))
	}
	return min(max(late, floor), ceiling)
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
