package handoff

import (
	"slices"
	"strings"

	"github.com/concord-kv/concord/engine/ring"
)

// Transfer is one partition a node must fetch after a ring change.
type Transfer struct {
	Partition int
	From      string // an old replica that holds the data
	To        string // the new replica
}

// Plan lists the transfers that take the ring from prev to cur when every
// partition keeps n replicas: each node that becomes a replica of a
// partition fetches it from an old replica, preferring the one that gives up
// its place (so leaving nodes hand their data on). Sorted by partition,
// then receiver.
func Plan(prev, cur ring.Ring, n int) []Transfer {
	var out []Transfer
	if prev.Q() != cur.Q() {
		return nil
	}
	for p := range cur.Q() {
		old := ids(prev.PreferenceList(p, n))
		now := ids(cur.PreferenceList(p, n))
		var leaving []string
		for _, id := range old {
			if !slices.Contains(now, id) {
				leaving = append(leaving, id)
			}
		}
		k := 0
		for _, id := range now {
			if slices.Contains(old, id) {
				continue
			}
			from := old[0]
			if len(leaving) > 0 {
				from = leaving[k%len(leaving)]
				k++
			}
			out = append(out, Transfer{Partition: p, From: from, To: id})
		}
	}
	return out
}

// Leaving lists, per partition, the old replicas that are not replicas any
// more: they keep serving the partition until its transfers are done, then
// drop its data.
func Leaving(prev, cur ring.Ring, n int) map[int][]string {
	out := map[int][]string{}
	if prev.Q() != cur.Q() {
		return out
	}
	for p := range cur.Q() {
		now := ids(cur.PreferenceList(p, n))
		for _, id := range ids(prev.PreferenceList(p, n)) {
			if !slices.Contains(now, id) {
				out[p] = append(out[p], id)
			}
		}
	}
	return out
}

// Moving lists, per partition, the nodes taking part in a transfer of it
// that is not done yet, its sender and its receiver, from the progress of a
// ring change's transfers ([Collect]). Background work that would copy the
// same data, anti-entropy, leaves those nodes' copies alone until the
// transfer is done.
func Moving(progress []Progress) map[int][]string {
	out := map[int][]string{}
	for _, p := range progress {
		if p.Done {
			continue
		}
		for _, id := range []string{p.From, p.To} {
			if !slices.Contains(out[p.Partition], id) {
				out[p.Partition] = append(out[p.Partition], id)
			}
		}
	}
	return out
}

func ids(in []ring.NodeID) []string {
	out := make([]string, len(in))
	for i, id := range in {
		out[i] = string(id)
	}
	return out
}

// Progress is how far one transfer got, as its receiver reports it.
type Progress struct {
	Partition      int     `json:"p"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	Keys           uint64  `json:"keys"`
	Bytes          uint64  `json:"bytes"`
	RemainingBytes uint64  `json:"remaining,omitempty"`
	Rate           float64 `json:"rate,omitempty"` // bytes per second
	Done           bool    `json:"done,omitempty"`
	Cursor         []byte  `json:"cursor,omitempty"`
}

// ETA estimates the seconds left, 0 when unknown or done.
func (p Progress) ETA() float64 {
	if p.Done || p.Rate <= 0 {
		return 0
	}
	return float64(p.RemainingBytes) / p.Rate
}

// Report is what one receiver publishes about its transfers of an epoch.
type Report struct {
	Epoch     uint64     `json:"epoch"`
	Transfers []Progress `json:"transfers"`
}

// PlanAll lists the transfers for namespaces keeping different replica
// counts: the union of [Plan] for each n, one transfer per (partition,
// receiver) — a transfer copies the whole partition, every namespace in it.
func PlanAll(prev, cur ring.Ring, ns []int) []Transfer {
	type key struct {
		p  int
		to string
	}
	seen := map[key]bool{}
	var out []Transfer
	for _, n := range ns {
		for _, t := range Plan(prev, cur, n) {
			if k := (key{t.Partition, t.To}); !seen[k] {
				seen[k] = true
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b Transfer) int {
		if a.Partition != b.Partition {
			return a.Partition - b.Partition
		}
		return strings.Compare(a.To, b.To)
	})
	return out
}
