package aae_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/aae"
)

const interval = time.Second

// cluster is the partitions of one node: partition p has a local replica and
// two peers, all divergent.
type cluster struct {
	parts []aae.PartitionPeers
	mem   map[int][]*memReplica // local, peer 1, peer 2
}

func newCluster(t *testing.T, partitions ...int) *cluster {
	t.Helper()
	c := &cluster{mem: map[int][]*memReplica{}}
	for _, p := range partitions {
		reps := []*memReplica{newMem("local", 16), newMem("peer-1", 16), newMem("peer-2", 16)}
		for i, r := range reps {
			r.write(t, key("ns", fmt.Sprint("only-", i)), "v", false)
			r.write(t, key("ns", "shared"), fmt.Sprint("v", i), true)
		}
		c.mem[p] = reps
		c.parts = append(c.parts, aae.PartitionPeers{Partition: p, Local: reps[0], Peers: []aae.Replica{reps[1], reps[2]}})
	}
	return c
}

func (c *cluster) list() []aae.PartitionPeers { return c.parts }

func newScheduler(t *testing.T, cfg aae.SchedulerConfig) *aae.Scheduler {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = interval
	}
	s, err := aae.NewScheduler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchedulerRepairsAndStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0, 1, 2)
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list})
		s.Start(t.Context())

		// One round per interval, one partition per round, both peers.
		time.Sleep(3*interval + interval/2)
		synctest.Wait()
		m := s.Metrics()
		if m.Rounds != 3 || m.Exchanges != 6 || m.Errors != 0 || m.KeysRepaired == 0 || m.SegmentsDiffering == 0 {
			t.Fatalf("metrics after 3 rounds: %+v", m)
		}
		for _, reps := range c.mem {
			// The local replica took both peers' data and gave it to the
			// second peer; the first peer still lacks the second's.
			assertConverged(t, reps[0], reps[2])
			if _, ok := reps[1].snapshot()[key("ns", "only-2")]; ok {
				t.Fatal("peer 1 got peer 2's key in the first sweep")
			}
		}

		// A second sweep converges every replica.
		time.Sleep(3 * interval)
		for _, reps := range c.mem {
			assertIdleReplicas(t, reps)
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		before := s.Metrics()
		time.Sleep(10 * interval)
		if after := s.Metrics(); after != before {
			t.Fatalf("metrics changed after Close: %+v then %+v", before, after)
		}
	})
}

// assertIdleReplicas fails unless the local replica and its two peers are
// all converged.
func assertIdleReplicas(t *testing.T, reps []*memReplica) {
	t.Helper()
	assertConverged(t, reps[0], reps[1])
	assertConverged(t, reps[0], reps[2])
}

// recorder notes the partition of each exchange.
type recorder struct {
	*memReplica
	mu   *sync.Mutex
	seen *[]int
}

func (r recorder) Segments(ctx context.Context, p int) ([]uint64, error) {
	r.mu.Lock()
	*r.seen = append(*r.seen, p)
	r.mu.Unlock()
	return r.memReplica.Segments(ctx, p)
}

func TestSchedulerRoundRobin(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var (
			mu   sync.Mutex
			seen []int
			list atomic.Pointer[[]aae.PartitionPeers]
		)
		entry := func(p int) aae.PartitionPeers {
			return aae.PartitionPeers{Partition: p, Local: recorder{newMem("a", 4), &mu, &seen}, Peers: []aae.Replica{newMem("b", 4)}}
		}
		parts := []aae.PartitionPeers{entry(9), entry(3), entry(5)}
		list.Store(&parts)
		s := newScheduler(t, aae.SchedulerConfig{Partitions: func() []aae.PartitionPeers { return *list.Load() }})
		s.Start(t.Context())
		defer s.Close()

		time.Sleep(4*interval + interval/2)
		// The list changes: 5 leaves, 7 arrives; the walk goes on from 3.
		changed := []aae.PartitionPeers{entry(9), entry(7), entry(3)}
		list.Store(&changed)
		time.Sleep(3 * interval)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		if want := []int{3, 5, 9, 3, 7, 9, 3}; !slices.Equal(seen, want) {
			t.Fatalf("partitions exchanged in order %v, want %v", seen, want)
		}
	})
}

func TestSchedulerBacksOffUnderPressure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)
		var high atomic.Bool
		high.Store(true)
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list, Pressure: high.Load})
		s.Start(t.Context())
		defer s.Close()

		time.Sleep(2*interval + interval/2)
		if m := s.Metrics(); m.Rounds != 2 || m.Skipped != 2 || m.Exchanges != 0 {
			t.Fatalf("under pressure: %+v, want 2 skipped rounds and no exchange", m)
		}
		high.Store(false)
		time.Sleep(interval)
		if m := s.Metrics(); m.Rounds != 3 || m.Skipped != 2 || m.Exchanges != 2 {
			t.Fatalf("after pressure: %+v, want 1 more round with 2 exchanges", m)
		}
	})
}

func TestSchedulerCountsErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)
		c.mem[0][1].fail = errors.New("peer down")
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list, Timeout: interval / 2})
		s.Start(t.Context())
		defer s.Close()

		time.Sleep(interval + interval/2)
		if m := s.Metrics(); m.Exchanges != 2 || m.Errors != 1 {
			t.Fatalf("metrics %+v, want 2 exchanges and 1 error", m)
		}
		// The healthy peer was still repaired.
		assertConverged(t, c.mem[0][0], c.mem[0][2])
	})
}

// slowReplica never answers until its context ends.
type slowReplica struct{ *memReplica }

func (slowReplica) Segments(ctx context.Context, _ int) ([]uint64, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestSchedulerTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)
		c.parts[0].Peers[0] = slowReplica{c.mem[0][1]}
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list, Timeout: interval / 4})
		s.Start(t.Context())
		defer s.Close()

		time.Sleep(interval + interval/2)
		if m := s.Metrics(); m.Exchanges != 2 || m.Errors != 1 {
			t.Fatalf("metrics %+v, want the hung exchange to time out as an error", m)
		}
	})
}

// Close cancels a running exchange and waits for the loop; a shutdown is
// not an error.
func TestSchedulerCloseCancelsExchange(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)
		c.parts[0].Peers = []aae.Replica{slowReplica{c.mem[0][1]}}
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list})
		s.Start(t.Context())
		time.Sleep(interval + interval/2) // the exchange hangs
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if m := s.Metrics(); m.Exchanges != 1 || m.Errors != 0 {
			t.Fatalf("metrics %+v, want 1 cancelled exchange, not an error", m)
		}
	})
}

func TestSchedulerLifecycle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)

		// Close before Start, twice; Start afterwards does nothing.
		s := newScheduler(t, aae.SchedulerConfig{Partitions: c.list})
		if err := errors.Join(s.Close(), s.Close()); err != nil {
			t.Fatal(err)
		}
		s.Start(t.Context())
		time.Sleep(2 * interval)
		if m := s.Metrics(); m.Rounds != 0 {
			t.Fatalf("a closed scheduler ran: %+v", m)
		}

		// The loop ends with the context of Start; Close still returns.
		s = newScheduler(t, aae.SchedulerConfig{Partitions: c.list})
		ctx, cancel := context.WithCancel(t.Context())
		s.Start(ctx)
		s.Start(ctx) // no second loop
		time.Sleep(interval + interval/2)
		cancel()
		time.Sleep(5 * interval)
		if m := s.Metrics(); m.Rounds != 1 {
			t.Fatalf("rounds = %d, want 1 before the context ended", m.Rounds)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSchedulerConfigValidate(t *testing.T) {
	t.Parallel()
	list := func() []aae.PartitionPeers { return nil }
	for _, tc := range []struct {
		name string
		cfg  aae.SchedulerConfig
		ok   bool
	}{
		{"defaults", aae.SchedulerConfig{Partitions: list}, true},
		{"no partitions", aae.SchedulerConfig{}, false},
		{"negative interval", aae.SchedulerConfig{Partitions: list, Interval: -1}, false},
		{"negative timeout", aae.SchedulerConfig{Partitions: list, Timeout: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, aae.ErrBadConfig)) {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if _, err := aae.NewScheduler(tc.cfg); (err == nil) != tc.ok {
				t.Fatalf("NewScheduler error = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
