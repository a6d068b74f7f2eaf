package handoff

import (
	"maps"
	"slices"
	"time"
)

// Summary adds up the progress of a set of transfers: those of one
// receiver, or all the transfers of a ring change.
type Summary struct {
	Receiver    string // "" for all
	Done, Total int    // transfers
	Keys, Bytes uint64 // received so far
	// Rate is in bytes per second: the rate the caller measured, or else
	// the sum of the rates the receivers reported; 0 when unknown.
	Rate float64
	// ETA is the time left at Rate: 0 when every transfer is done, -1 when
	// unknown. See [Summarize].
	ETA time.Duration

	started      int     // transfers neither done nor untouched
	startedBytes uint64  // bytes, received and left, of done and started transfers
	remaining    uint64  // bytes the started transfers have left
	reportedRate float64 // sum of the rates the started transfers report
}

func (s *Summary) add(p Progress) {
	s.Total++
	s.Keys += p.Keys
	s.Bytes += p.Bytes
	switch {
	case p.Done:
		s.Done++
		s.startedBytes += p.Bytes
	case p.Bytes > 0 || p.RemainingBytes > 0:
		s.started++
		s.startedBytes += p.Bytes + p.RemainingBytes
		s.remaining += p.RemainingBytes
		s.reportedRate += p.Rate
	}
}

// left estimates the bytes still to move: what the started transfers have
// left, plus the transfers not started at the average size of the others.
func (s *Summary) left() (uint64, bool) {
	notStarted := s.Total - s.Done - s.started
	if notStarted == 0 {
		return s.remaining, true
	}
	if s.Done+s.started == 0 {
		return 0, false
	}
	return s.remaining + uint64(notStarted)*(s.startedBytes/uint64(s.Done+s.started)), true
}

func (s *Summary) finish(rate float64) {
	s.Rate, s.ETA = rate, -1
	if s.Rate <= 0 {
		s.Rate = s.reportedRate
	}
	switch left, ok := s.left(); {
	case s.Done == s.Total:
		s.ETA = 0
	case ok && s.Rate > 0:
		s.ETA = time.Duration(float64(left) / s.Rate * float64(time.Second))
	}
}

// Summarize adds up transfers per receiver (sorted by ID) and in total.
// rates gives bytes per second by receiver ("" for the total), as a
// [RateMeter] measures them; missing ones fall back to the sum of the rates
// the receivers reported.
//
// The ETA is the bytes left over the rate. The bytes left are what started
// transfers report they have left, plus, for each transfer not started,
// the average size of the started and done ones: a transfer's size is
// known only once its source starts sending. With nothing started yet the
// ETA is unknown.
func Summarize(ps []Progress, rates map[string]float64) (per []Summary, total Summary) {
	by := map[string]*Summary{}
	for _, p := range ps {
		s := by[p.To]
		if s == nil {
			s = &Summary{Receiver: p.To}
			by[p.To] = s
		}
		s.add(p)
		total.add(p)
	}
	for _, id := range slices.Sorted(maps.Keys(by)) {
		s := by[id]
		s.finish(rates[id])
		per = append(per, *s)
	}
	total.finish(rates[""])
	return per, total
}

// rateSmoothing weighs the newest interval in a [RateMeter]'s moving
// average.
const rateSmoothing = 0.3

// RateMeter measures transfer rates from successive observations of the
// same transfers (a watch of the cluster's handoff progress): per receiver
// and in total (""), from the growth of the bytes received between two
// observations, smoothed by an exponential moving average. The caller
// passes the time of each observation in. The zero RateMeter is ready to
// use; it is not safe for concurrent use.
type RateMeter struct {
	first, last time.Time
	bytes       map[string]uint64
	rates       map[string]float64
}

// Observe records the progress seen at time now and returns the rates
// measured so far, in bytes per second, by receiver and "" for the total.
// A receiver whose byte count went down (its transfers restarted) keeps
// its last rate.
func (m *RateMeter) Observe(ps []Progress, now time.Time) map[string]float64 {
	bytes := map[string]uint64{}
	for _, p := range ps {
		bytes[p.To] += p.Bytes
		bytes[""] += p.Bytes
	}
	if m.rates == nil {
		m.first, m.rates = now, map[string]float64{}
	} else if dt := now.Sub(m.last).Seconds(); dt > 0 {
		for id, b := range bytes {
			prev, seen := m.bytes[id]
			if !seen || b < prev {
				continue
			}
			inst := float64(b-prev) / dt
			if r, ok := m.rates[id]; ok {
				m.rates[id] = rateSmoothing*inst + (1-rateSmoothing)*r
			} else {
				m.rates[id] = inst
			}
		}
	}
	m.last, m.bytes = now, bytes
	return maps.Clone(m.rates)
}

// Elapsed is the time from the first observation to the last.
func (m *RateMeter) Elapsed() time.Duration { return m.last.Sub(m.first) }
