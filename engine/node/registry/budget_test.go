package registry

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/meta"
)

// TestCPUBucket: a namespace starts with one second's worth of resolver
// time; a call may start while any is left and is charged what it ran,
// debt included; the bucket refills at its rate, never past a tenth of a
// second's worth.
func TestCPUBucket(t *testing.T) {
	t.Parallel()
	const rate = 200 * time.Millisecond
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var b cpuBucket
	steps := []struct {
		now    time.Time
		charge time.Duration // charged after the call, when it is allowed
		allow  bool
	}{
		{at(0), 15 * time.Millisecond, true},           // 20 (a tenth of 200) → 5
		{at(0), 10 * time.Millisecond, true},           // 5 left: may start; → -5
		{at(0), 0, false},                              // in debt
		{at(20 * time.Millisecond), 0, false},          // +4 → -1
		{at(30 * time.Millisecond), 0, true},           // +2 → 1
		{at(30 * time.Millisecond), time.Second, true}, // → -999
		{at(5 * time.Second), 0, false},                // +994 → -5
		{at(time.Hour), 0, true},                       // refilled, capped at 20
		{at(time.Hour), 19 * time.Millisecond, true},   // → 1
		{at(time.Hour), 1 * time.Millisecond, true},    // → 0
		{at(time.Hour), 0, false},                      // empty
		{at(time.Hour + time.Millisecond), 0, true},    // +0.2ms: above 0, a call may start
	}
	for i, s := range steps {
		if got := b.allow(s.now, rate); got != s.allow {
			t.Fatalf("step %d: allow = %v, want %v (tokens %v)", i, got, s.allow, b.tokens)
		}
		if s.allow {
			b.charge(s.charge)
		}
	}
}

// TestGateConcurrency: at most resolver_concurrency calls run at once; a
// call that finds every slot taken waits its bounded time, then is turned
// away and counted; a freed slot lets the next one in; a changed limit
// takes effect at once.
func TestGateConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		var g gate
		now := time.Now()
		const rate = time.Second
		end1, ok1 := g.acquire(ctx, now, rate, 2, QueueWait, 0)
		_, ok2 := g.acquire(ctx, now, rate, 2, QueueWait, 0)
		if !ok1 || !ok2 {
			t.Fatal("the first two calls were turned away with a concurrency of 2")
		}
		start := time.Now()
		if _, ok := g.acquire(ctx, now, rate, 2, QueueWait, 0); ok {
			t.Fatal("a third call ran with a concurrency of 2")
		}
		if waited := time.Since(start); waited != QueueWait {
			t.Errorf("the third call waited %v, want QueueWait (%v)", waited, QueueWait)
		}
		if g.skipped.Load() != 1 {
			t.Errorf("skipped = %d, want 1", g.skipped.Load())
		}
		// A slot freed while a call waits lets it in.
		go func() {
			time.Sleep(QueueWait / 2)
			end1(0)
		}()
		end3, ok3 := g.acquire(ctx, now, rate, 2, QueueWait, 0)
		if !ok3 {
			t.Fatal("a call was turned away though a slot came free while it waited")
		}
		end3(0)
		// A new limit: 3 slots, afresh.
		for i := range 3 {
			if _, ok := g.acquire(ctx, now, rate, 3, 0, 0); !ok {
				t.Fatalf("call %d turned away with a concurrency of 3", i+1)
			}
		}
	})
}

// TestGateCPU: a namespace over its CPU time is turned away without
// waiting, and counted.
func TestGateCPU(t *testing.T) {
	t.Parallel()
	var g gate
	now := time.Unix(1000, 0)
	end, ok := g.acquire(context.Background(), now, 10*time.Millisecond, 2, QueueWait, 0)
	if !ok {
		t.Fatal("the first call was turned away")
	}
	end(50 * time.Millisecond)
	if _, ok := g.acquire(context.Background(), now.Add(time.Second), 10*time.Millisecond, 2, QueueWait, 0); ok {
		t.Fatal("a call ran while the namespace owed 30ms of resolver time")
	}
	if _, ok := g.acquire(context.Background(), now.Add(5*time.Second), 10*time.Millisecond, 2, QueueWait, 0); !ok {
		t.Fatal("a call was turned away once the debt was paid back")
	}
	if g.skipped.Load() != 1 {
		t.Errorf("skipped = %d, want 1", g.skipped.Load())
	}
}

// TestGateReservesTheDeadline: a call reserves its deadline out of the
// bucket as it starts, so a second call starting at the same moment cannot
// spend the same tokens; the unused part comes back when the call ends.
func TestGateReservesTheDeadline(t *testing.T) {
	t.Parallel()
	var g gate
	now := time.Unix(1000, 0)
	const rate, deadline = 200 * time.Millisecond, 20 * time.Millisecond // a bucket of 20ms
	end, ok := g.acquire(context.Background(), now, rate, 2, QueueWait, deadline)
	if !ok {
		t.Fatal("the first call was turned away")
	}
	if _, ok := g.acquire(context.Background(), now, rate, 2, QueueWait, deadline); ok {
		t.Fatal("a second call started on the tokens the first one reserved")
	}
	end(5 * time.Millisecond) // 15ms of the reservation come back
	if _, ok := g.acquire(context.Background(), now, rate, 2, QueueWait, deadline); !ok {
		t.Fatal("a call was turned away with 15ms back in the bucket")
	}
}

// TestBudgetTakesTheClusterRate: a namespace that sets no CPU rate gets the
// cluster's, and one that sets more than the cluster's is held to it.
func TestBudgetTakesTheClusterRate(t *testing.T) {
	t.Parallel()
	cluster := uint32(50)
	r := &Registry{cfg: Config{DefaultCPUMsPerSecond: func() uint32 { return cluster }}}
	for _, tc := range []struct{ own, want uint32 }{{0, 50}, {20, 20}, {500, 50}} {
		got, _ := r.budget(meta.Namespace{Limits: meta.Limits{ResolverCPUMsPerSecond: tc.own}})
		if got != time.Duration(tc.want)*time.Millisecond {
			t.Errorf("namespace rate %d ms/s under a cluster rate of %d: budget %v, want %d ms/s", tc.own, cluster, got, tc.want)
		}
	}
	if got, _ := (&Registry{}).budget(meta.Namespace{}); got != DefaultCPUMsPerSecond*time.Millisecond {
		t.Errorf("no cluster rate: budget %v, want the default %d ms/s", got, DefaultCPUMsPerSecond)
	}
}
