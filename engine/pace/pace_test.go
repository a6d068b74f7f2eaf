package pace_test

import (
	"maps"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/pace"
)

// tick observes n requests of latency d and ends the tick.
func tick(c *pace.Controller, n int, d time.Duration) float64 {
	for range n {
		c.Observe(d)
	}
	return c.Tick()
}

func TestControllerHalvesWhileSlowAndRecoversAdditively(t *testing.T) {
	t.Parallel()
	c := pace.NewController()
	for range 10 {
		if s := tick(c, 50, 2*time.Millisecond); s != 1 {
			t.Fatalf("steady latency: share %v, want 1", s)
		}
	}
	if base, ok := c.Steady(); !ok || base != 2*time.Millisecond {
		t.Fatalf("steady state %v %v, want 2ms", base, ok)
	}
	// 1.9× the steady state is within the threshold.
	if s := tick(c, 50, 3800*time.Microsecond); s != 1 {
		t.Errorf("1.9x steady: share %v, want 1", s)
	}
	// Above 2×: halved every tick, down to the floor.
	want := 1.0
	for range 8 {
		want = max(pace.MinShare, want/2)
		if s := tick(c, 50, 5*time.Millisecond); s != want {
			t.Fatalf("slow tick: share %v, want %v", s, want)
		}
	}
	if c.Share() != pace.MinShare {
		t.Fatalf("share %v after a long slow spell, want the floor %v", c.Share(), pace.MinShare)
	}
	// Back to normal: grows by Step per tick, back to 1.
	prev := c.Share()
	for c.Share() < 1 {
		s := tick(c, 50, 2*time.Millisecond)
		if s <= prev || s-prev > pace.Step+1e-9 {
			t.Fatalf("recovering: share %v after %v, want at most %v more", s, prev, pace.Step)
		}
		prev = s
	}
	// The slow spell never became the steady state.
	if base, _ := c.Steady(); base != 2*time.Millisecond {
		t.Errorf("steady state %v after the slow spell, want 2ms", base)
	}
}

func TestControllerGrowsWhenThereIsNothingToJudge(t *testing.T) {
	t.Parallel()
	c := pace.NewController()
	tick(c, 50, time.Millisecond)
	tick(c, 50, 10*time.Millisecond) // 10× steady: halved
	if c.Share() != 0.5 {
		t.Fatalf("share %v, want 0.5", c.Share())
	}
	// Ticks with fewer than MinSamples requests: no foreground to protect.
	if s := tick(c, pace.MinSamples-1, time.Second); s != 0.6 {
		t.Errorf("a tick of %d slow requests: share %v, want 0.6", pace.MinSamples-1, s)
	}
}

func TestFirstJudgedTickHasNoSteadyStateToExceed(t *testing.T) {
	t.Parallel()
	c := pace.NewController()
	if s := tick(c, 50, time.Second); s != 1 {
		t.Errorf("first tick: share %v, want 1", s)
	}
}

// busyTick uses every limiter (a unit of work each) and ends a tick in
// which the pacer observed n requests of latency d.
func busyTick(t *testing.T, p *pace.Pacer, n int, d time.Duration, ls ...*pace.Limiter) {
	t.Helper()
	for _, l := range ls {
		if err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		p.Observe(d)
	}
	p.Tick()
}

func TestLimiterRateFollowsTheShare(t *testing.T) {
	t.Parallel()
	p := pace.New()
	l := p.Limiter("aae", 1000)
	for range 3 {
		busyTick(t, p, 20, time.Millisecond, l)
	}
	if l.Rate() != 1000 {
		t.Fatalf("rate %v at full share, want 1000", l.Rate())
	}
	busyTick(t, p, 20, 10*time.Millisecond, l)
	if l.Rate() != 500 {
		t.Errorf("rate %v after a slow tick, want 500", l.Rate())
	}
	l.SetMax(200)
	if l.Rate() != 100 {
		t.Errorf("rate %v after SetMax(200) at share 0.5, want 100", l.Rate())
	}
	if err := l.Wait(t.Context(), 5); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

// TestControllerSeesTheTail: a tick whose median is as usual but whose
// slowest tenth is ten times slower halves the share.
func TestControllerSeesTheTail(t *testing.T) {
	t.Parallel()
	c := pace.NewController()
	tick(c, 100, time.Millisecond)
	for range 85 {
		c.Observe(time.Millisecond)
	}
	for range 15 {
		c.Observe(10 * time.Millisecond)
	}
	if s := c.Tick(); s != 0.5 {
		t.Errorf("a slow tail: share %v, want 0.5", s)
	}
}

// TestStatsReportTheShareAndEachKindsRate: Stats follows the share, and
// adds up the rates of the limiters of each kind.
func TestStatsReportTheShareAndEachKindsRate(t *testing.T) {
	t.Parallel()
	p := pace.New()
	ls := []*pace.Limiter{p.Limiter("handoff", 20000), p.Limiter("aae", 4000), p.Limiter("aae", 1000)}
	check := func(share float64) {
		t.Helper()
		st := p.Stats()
		want := map[string]float64{"handoff": 20000 * share, "aae": 5000 * share}
		if st.Share != share || !maps.Equal(st.Rates, want) {
			t.Errorf("stats %+v, want share %v and rates %v", st, share, want)
		}
	}
	check(1)
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond} {
		busyTick(t, p, 20, d, ls...)
	}
	check(0.5)
}

// TestLimiterStartsSlowAfterAPause: work that begins after a pause runs at
// SlowStart of the share, doubling every tick with work up to the share;
// IdleTicks without work start it slow again. The pacer's share applies
// on top.
func TestLimiterStartsSlowAfterAPause(t *testing.T) {
	t.Parallel()
	p := pace.New()
	l := p.Limiter("hints", 1000)
	want := func(r float64) {
		t.Helper()
		if l.Rate() != r {
			t.Fatalf("rate %v, want %v", l.Rate(), r)
		}
	}
	want(1000) // a new limiter has had no pause
	for range pace.IdleTicks {
		p.Tick()
	}
	want(1000 * pace.SlowStart)
	for _, r := range []float64{250, 500, 1000, 1000} {
		busyTick(t, p, 0, 0, l)
		want(r)
	}
	for range pace.IdleTicks - 1 {
		p.Tick()
		want(1000) // a short pause keeps the pace
	}
	p.Tick()
	want(1000 * pace.SlowStart)
	busyTick(t, p, 0, 0, l)
	want(250)
	// A slow tick halves the pacer's share; the slow start goes on under it.
	for range 3 {
		busyTick(t, p, 20, time.Millisecond, l)
	}
	want(1000)
	busyTick(t, p, 20, 10*time.Millisecond, l)
	want(500)
}
