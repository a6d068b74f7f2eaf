package hints_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node/hints"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
)

// store is a fake hint store: the hints of each owner, in order.
type store struct {
	mu    sync.Mutex
	hints []replica.Hint
}

func (s *store) HintBacklog() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.hints))
}

func (s *store) Hints(owner string, limit int) ([]replica.Hint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []replica.Hint
	for _, h := range s.hints {
		if h.Owner == owner && len(out) < limit {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s *store) DropHint(h replica.Hint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hints = slices.DeleteFunc(s.hints, func(o replica.Hint) bool { return o.Owner == h.Owner && string(o.Key) == string(h.Key) })
	return nil
}

func (s *store) owners() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, h := range s.hints {
		out[h.Owner]++
	}
	return out
}

// topology is a fake: a ring of its members, with the alive ones.
type topology struct {
	r     ring.Ring
	alive map[string]bool
}

func (t topology) Self() string            { return "a" }
func (t topology) Ring() (ring.Ring, bool) { return t.r, true }
func (t topology) Alive(id string) bool    { return t.alive[id] }

// peers is a fake: each owner answers or fails, and what it got is kept.
type peers struct {
	mu       sync.Mutex
	fail     map[string]bool
	bad      map[string]bool // keys refused as invalid
	received map[string]int
}

func (p *peers) Replicate(_ context.Context, to string, objs []peer.Object, sync bool, owner string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !sync || owner != "" {
		return false, errors.New("hints are delivered synced, to their owner")
	}
	if p.fail[to] {
		return false, peer.ErrNoAnswer
	}
	for _, o := range objs {
		if p.bad[string(o.Key)] {
			return false, &errs.LimitError{Limit: "max_value_bytes", Max: 1, Actual: 2}
		}
	}
	p.received[to] += len(objs)
	return true, nil
}

func newRing(t *testing.T, ids ...string) ring.Ring {
	t.Helper()
	var ms []ring.Member
	for _, id := range ids {
		ms = append(ms, ring.Member{ID: ring.NodeID(id)})
	}
	r, err := ring.New(8, ms, 3)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hintsFor(owner string, n int) []replica.Hint {
	var out []replica.Hint
	for i := range n {
		obj := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte{byte(i)}})
		out = append(out, replica.Hint{Owner: owner, Namespace: "default", Key: fmt.Appendf(nil, "%s-%d", owner, i), Object: obj})
	}
	return out
}

// TestDeliveryDropsDeliveredAndKeepsTheRest: hints for an owner that
// takes them are dropped (in batches, all of them); hints for an owner
// whose call fails, or that gossip sees down, stay for the next round.
func TestDeliveryDropsDeliveredAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	st := &store{hints: slices.Concat(hintsFor("b", 300), hintsFor("c", 5), hintsFor("d", 7))}
	top := topology{r: newRing(t, "a", "b", "c", "d"), alive: map[string]bool{"a": true, "b": true, "c": true}}
	ps := &peers{fail: map[string]bool{"c": true}, received: map[string]int{}}
	d := hints.New(st, top, ps, 1, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))

	d.Round(t.Context())

	if got, want := st.owners(), map[string]int{"c": 5, "d": 7}; !mapsEqual(got, want) {
		t.Errorf("hints kept: %v, want %v (b's delivered and dropped, c's call failed, d is down)", got, want)
	}
	if ps.received["b"] != 300 || ps.received["d"] != 0 {
		t.Errorf("received %v, want all 300 of b's and none of d's", ps.received)
	}
	if d.Delivered() != 300 {
		t.Errorf("Delivered = %d, want 300", d.Delivered())
	}

	ps.fail["c"] = false // c answers again: the next round delivers what was kept
	d.Round(t.Context())
	if got, want := st.owners(), map[string]int{"d": 7}; !mapsEqual(got, want) {
		t.Errorf("after c answers, hints kept: %v, want %v", got, want)
	}
}

// TestRefusedHintsDoNotBlockTheRest: an owner that refuses one hint of a
// batch as invalid gets the others; the refused one is dropped and
// counted, so later hints for that owner are not stuck behind it.
func TestRefusedHintsDoNotBlockTheRest(t *testing.T) {
	t.Parallel()
	st := &store{hints: hintsFor("b", 300)}
	top := topology{r: newRing(t, "a", "b"), alive: map[string]bool{"a": true, "b": true}}
	ps := &peers{bad: map[string]bool{"b-3": true}, received: map[string]int{}}
	d := hints.New(st, top, ps, 1, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))

	d.Round(t.Context())

	if st.HintBacklog() != 0 || ps.received["b"] != 299 || d.Refused() != 1 || d.Delivered() != 299 {
		t.Errorf("backlog %d, received %d, refused %d, delivered %d; want 0, 299, 1, 299",
			st.HintBacklog(), ps.received["b"], d.Refused(), d.Delivered())
	}
}

// TestStartClose: a started Deliverer delivers every interval until
// Close, which waits for it; Close without Start does nothing.
func TestStartClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &store{hints: hintsFor("b", 1)}
		top := topology{r: newRing(t, "a", "b"), alive: map[string]bool{"b": true}}
		ps := &peers{received: map[string]int{}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := hints.New(st, top, ps, time.Second, nil, log).Close(); err != nil {
			t.Fatal(err)
		}
		d := hints.New(st, top, ps, time.Second, nil, log)
		d.Start(t.Context())
		synctest.Wait()
		if st.HintBacklog() != 1 {
			t.Fatal("delivered before the first interval")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if st.HintBacklog() != 0 {
			t.Fatal("not delivered after an interval")
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDeliveryIsPaced: hints go out no faster than the pacer's limiter
// allows, and slower once foreground requests slow down (package pace).
// The clock is synctest's: the waits are the limiter's own.
func TestDeliveryIsPaced(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &store{hints: hintsFor("b", 512)}
		top := topology{r: newRing(t, "a", "b"), alive: map[string]bool{"a": true, "b": true}}
		ps := &peers{received: map[string]int{}}
		p := pace.New()
		d := hints.New(st, top, ps, 1, p.Limiter("hints", 100), slog.New(slog.NewTextHandler(io.Discard, nil)))
		start := time.Now()
		d.Round(t.Context())
		if took := time.Since(start); d.Delivered() != 512 || took < 4*time.Second || took > 6*time.Second {
			t.Fatalf("delivered %d hints in %v at 100/s, want 512 in about 5s", d.Delivered(), took)
		}
		// Foreground requests ten times slower than their steady state:
		// the share halves each tick, to a quarter after two.
		for _, lat := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond} {
			for range 20 {
				p.Observe(lat)
			}
			p.Tick()
		}
		st.hints = hintsFor("b", 512)
		start = time.Now()
		d.Round(t.Context())
		if took := time.Since(start); took < 18*time.Second {
			t.Errorf("delivered 512 more hints in %v at a quarter share, want about 20s", took)
		}
	})
}
