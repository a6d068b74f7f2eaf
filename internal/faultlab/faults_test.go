package faultlab_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

// Fault kinds, in the order the CI schedule injects them.
const (
	faultPartition = "partition"       // the nodes split 2 | 3
	faultIsolate   = "isolate"         // one node cut off from the others
	faultKill      = "kill-restart"    // kill -9, restart on the same data
	faultPause     = "pause"           // SIGSTOP, then SIGCONT
	faultLeave     = "leave-rejoin"    // cluster leave, handoff, cluster join, handoff
	faultRestart   = "cluster-restart" // kill -9 of every node, cold restart
	quiet          = "none"            // no fault active
)

var faultKinds = []string{faultPartition, faultIsolate, faultKill, faultPause, faultLeave, faultRestart}

// window is the time one fault was active: from its injection until it was
// healed (the node restarted, the handoff done); Settle is how long the
// cluster took after that to be quiet again (every node alive in every
// view, hints delivered, no handoff moving).
type window struct {
	Kind   string
	Detail string
	Start  time.Time
	End    time.Time
	Settle time.Duration
}

// schedule injects faults one at a time, each held for hold and followed
// by quiet time, and records their windows.
type schedule struct {
	lab     *lab
	work    *workload
	rng     *rand.Rand
	hold    time.Duration
	quiet   time.Duration
	windows []window
}

// inject runs one fault of the given kind and heals it.
func (s *schedule) inject(kind string) {
	l := s.lab
	l.t.Helper()
	w := window{Kind: kind, Start: time.Now()}
	switch kind {
	case faultPartition:
		hs := s.shuffled()
		w.Detail = groupsText(hs[:2], hs[2:])
		l.net.partition(hs[:2], hs[2:])
		s.holdFor()
		l.net.heal()
	case faultIsolate:
		hs := s.shuffled()
		w.Detail = groupsText(hs[:1], hs[1:])
		l.net.partition(hs[:1], hs[1:])
		s.holdFor()
		l.net.heal()
	case faultKill:
		n := s.pick()
		w.Detail = n.name
		keys := s.burstKeys()
		s.work.burst(l.t.Context(), n, keys)
		n.proc.Kill()
		s.holdFor()
		n.proc.Restart()
		s.work.focus.Store(n) // the restarted node coordinates at once
		s.work.burst(l.t.Context(), n, keys)
	case faultPause:
		n := s.pick()
		w.Detail = n.name
		n.proc.Pause()
		n.paused = true
		s.holdFor()
		n.proc.Resume()
		n.paused = false
	case faultLeave:
		n := s.pick()
		w.Detail = n.name
		s.work.focus.Store(n) // as in issue 8: writes through the node that leaves and rejoins
		s.leaveRejoin(n)
	case faultRestart:
		w.Detail = "all"
		for _, n := range l.nodes {
			n.proc.Kill()
		}
		for _, n := range l.nodes {
			n.proc.Restart() // the first ones find no seed: they serve and retry
		}
	default:
		l.t.Fatalf("unknown fault %q", kind)
	}
	w.End = time.Now()
	w.Settle = l.waitSettled(2 * time.Minute)
	l.t.Logf("fault %-15s %-16s %5.1fs, settled %4.1fs after heal", kind, w.Detail, w.End.Sub(w.Start).Seconds(), w.Settle.Seconds())
	s.windows = append(s.windows, w)
	s.rest()
	s.work.focus.Store(nil)
}

// leaveRejoin takes n out of the ring and back in through the CLI, as an
// operator would, waiting for each handoff; between the two, n stays out
// of the ring for the hold time, long enough to drop the partitions it
// handed off. Clients keep calling n all the while (it forwards what it no
// longer replicates), and a burst of blind writes through n to keys of
// this fault's own goes out before the leave and again the moment n has
// the join's ring, while its partitions are still on their way back
// (issue 8's lost writes).
func (s *schedule) leaveRejoin(n *labNode) {
	l := s.lab
	l.t.Helper()
	via := s.pickOther(n)
	keys := s.burstKeys()
	s.work.burst(l.t.Context(), n, keys)
	l.cli(via, "cluster", "leave", n.id)
	l.cli(via, "cluster", "commit")
	s.waitRing(n, false)
	s.holdFor()
	l.cli(via, "cluster", "join", n.id)
	l.cli(via, "cluster", "commit")
	s.waitEpoch(n, s.epoch(via))
	s.work.burst(l.t.Context(), n, keys)
	s.waitRing(n, true)
}

// epoch is n's ring epoch.
func (s *schedule) epoch(n *labNode) uint64 {
	s.lab.t.Helper()
	st, err := s.lab.status(n)
	if err != nil {
		s.lab.t.Fatalf("cluster status of %s: %v", n.name, err)
	}
	return st.GetRingEpoch()
}

// waitEpoch waits until n has a ring of at least the given epoch.
func (s *schedule) waitEpoch(n *labNode, epoch uint64) {
	s.lab.t.Helper()
	eventually(s.lab.t, 30*time.Second, fmt.Sprintf("%s has ring epoch %d", n.name, epoch), func() bool {
		st, err := s.lab.status(n)
		return err == nil && st.GetRingEpoch() >= epoch
	})
}

// waitRing waits until every node has the same ring, with n in it or not,
// and no partition is still moving.
func (s *schedule) waitRing(n *labNode, in bool) {
	l := s.lab
	l.t.Helper()
	var why string
	cond := throttled(250*time.Millisecond, func() bool {
		var epoch uint64
		for i, m := range l.nodes {
			st, err := l.status(m)
			if err != nil {
				why = fmt.Sprintf("%s: %v", m.name, err)
				return false
			}
			if i > 0 && st.GetRingEpoch() != epoch {
				why = fmt.Sprintf("ring epochs differ: %s has %d", m.name, st.GetRingEpoch())
				return false
			}
			epoch = st.GetRingEpoch()
			for _, mem := range st.GetMembers() {
				if mem.GetId() == n.id && mem.GetInRing() != in {
					why = fmt.Sprintf("%s: %s in ring %v", m.name, n.name, mem.GetInRing())
					return false
				}
			}
			for _, h := range st.GetHandoffs() {
				if !h.GetDone() {
					why = fmt.Sprintf("%s: partition %d still moving to %s", m.name, h.GetPartition(), h.GetTo())
					return false
				}
			}
		}
		return true
	})
	if err := wait.Within(l.t.Context(), 3*time.Minute, cond); err != nil {
		l.t.Fatalf("handoff after %s of %s did not finish in 3m: %s", map[bool]string{true: "join", false: "leave"}[in], n.name, why)
	}
}

// burstKeys names the keys of this fault's bursts: blind keys nobody else
// writes.
func (s *schedule) burstKeys() string { return fmt.Sprintf("blind-f%02d", len(s.windows)) }

func (s *schedule) holdFor() { s.sleep(s.hold) }
func (s *schedule) rest()    { s.sleep(s.quiet) }

// sleep lets the workload run under the current fault (or none) for d.
func (s *schedule) sleep(d time.Duration) {
	select {
	case <-s.lab.t.Context().Done():
	case <-time.After(d):
	}
}

func (s *schedule) pick() *labNode { return s.lab.nodes[s.rng.IntN(len(s.lab.nodes))] }

func (s *schedule) pickOther(n *labNode) *labNode {
	others := slices.DeleteFunc(slices.Clone(s.lab.nodes), func(o *labNode) bool { return o == n })
	return others[s.rng.IntN(len(others))]
}

func (s *schedule) shuffled() []*host {
	hs := slices.Clone(s.lab.net.hosts)
	s.rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
	return hs
}

// groupsText is "{a,b}|{c,d,e}".
func groupsText(groups ...[]*host) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		names := make([]string, len(g))
		for j, h := range g {
			names[j] = h.name
		}
		slices.Sort(names)
		parts[i] = "{" + strings.Join(names, ",") + "}"
	}
	return strings.Join(parts, "|")
}

// windowAt names the fault active at t.
func windowAt(ws []window, t time.Time) *window {
	for i := range ws {
		if !t.Before(ws[i].Start) && t.Before(ws[i].End) {
			return &ws[i]
		}
	}
	return nil
}

// healAll undoes whatever a failed or interrupted schedule left: it drops
// every partition rule, resumes paused nodes and restarts dead ones.
func (l *lab) healAll() {
	l.t.Helper()
	l.net.heal()
	for _, n := range l.nodes {
		if n.paused {
			n.proc.Resume()
			n.paused = false
		}
		if !n.proc.Running() {
			n.proc.Restart()
		}
	}
}
