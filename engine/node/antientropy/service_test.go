package antientropy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/antientropy"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage/memory"
)

const q = 4

var deadNS = meta.StorageName("old", 1<<32|1)

// node is one replica: a store whose writes keep its trees current.
type node struct {
	store *replica.Store
	trees *antientropy.Trees
}

func newNode(t *testing.T) node {
	t.Helper()
	eng := memory.New()
	trees := antientropy.NewTrees(eng, q)
	rs, err := replica.New(eng, q, trees.Observe)
	if err != nil {
		t.Fatal(err)
	}
	return node{store: rs, trees: trees}
}

func (n node) put(t *testing.T, ns, key, actor, value string) {
	t.Helper()
	obj := dvv.Object{}.Update(actor, dvv.Clock{}, dvv.Sibling{Value: []byte(value)})
	if _, err := n.store.Merge(ns, []byte(key), obj, false); err != nil {
		t.Fatal(err)
	}
}

func (n node) get(t *testing.T, ns, key string) dvv.Object {
	t.Helper()
	o, err := n.store.Get(ns, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// topology is a fake: a and b replicate every partition, and handoffs
// (if not nil) gives the transfers of a ring change in progress.
type topology struct {
	r        ring.Ring
	handoffs func() []handoff.Progress
}

func (t topology) Self() string                              { return "a" }
func (t topology) Ring() (ring.Ring, bool)                   { return t.r, true }
func (t topology) Replicas(uint16, int) ([]string, []string) { return []string{"a", "b"}, nil }
func (t topology) Alive(string) bool                         { return true }
func (t topology) HandoffN() int                             { return 2 }

func (t topology) Handoffs() (uint64, []handoff.Progress, bool) {
	if t.handoffs == nil {
		return t.r.Epoch(), nil, true
	}
	progress, complete := t.handoffs(), true
	for _, p := range progress {
		complete = complete && p.Done
	}
	return t.r.Epoch(), progress, complete
}

// remote is node b as a's peer client reaches it; it counts the trees a
// asks of it.
type remote struct {
	node
	asked *asked
}

// asked counts the trees asked of a replica, by partition.
type asked struct {
	mu sync.Mutex
	n  [q]int
}

func (a *asked) count(p uint16) {
	a.mu.Lock()
	a.n[p]++
	a.mu.Unlock()
}

func (a *asked) get() [q]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (r remote) Tree(_ context.Context, to string, p uint16) ([]uint64, error) {
	if to != "b" {
		return nil, fmt.Errorf("%w: %s", peer.ErrNoAnswer, to)
	}
	r.asked.count(p)
	return r.trees.Tree(p)
}

func (r remote) Segment(ctx context.Context, _ string, p uint16, segments []uint32) ([]peer.Object, error) {
	return r.trees.Segment(ctx, p, segments)
}

func (r remote) Replicate(_ context.Context, _ string, objs []peer.Object, sync bool, _ string) (bool, error) {
	for _, o := range objs {
		if _, err := r.store.Merge(o.Namespace, o.Key, o.Object, sync); err != nil {
			return false, err
		}
	}
	return true, nil
}

// local is node a as an exchange writes to it: only the default
// namespace is live.
type local struct{ node }

func (l local) Live(ns string) bool { return ns == "default" }
func (l local) Merge(_ context.Context, o peer.Object) error {
	_, err := l.store.Merge(o.Namespace, o.Key, o.Object, false)
	return err
}

// pair is two diverged replicas: keys only a has, keys only b has, keys
// both wrote concurrently, keys both hold alike, and a key of a dead
// incarnation only b has.
func pair(t *testing.T) (a, b node) {
	a, b = newNode(t), newNode(t)
	for i := range 8 {
		a.put(t, "default", fmt.Sprint("a-only-", i), "a.1", "a")
		b.put(t, "default", fmt.Sprint("b-only-", i), "b.1", "b")
		a.put(t, "default", fmt.Sprint("both-", i), "a.1", "a")
		b.put(t, "default", fmt.Sprint("both-", i), "b.1", "b")
		a.put(t, "default", fmt.Sprint("same-", i), "c.1", "c")
		b.put(t, "default", fmt.Sprint("same-", i), "c.1", "c")
	}
	b.put(t, deadNS, "gone", "b.1", "x")
	return a, b
}

// fakes are what a's service sees besides the two nodes.
type fakes struct {
	pressure func() bool               // nil: never under pressure
	handoffs func() []handoff.Progress // nil: no ring change
}

// newService returns a's service, exchanging with b, and the count of
// trees it asks of b.
func newService(t *testing.T, a, b node, f fakes) (*antientropy.Service, *asked) {
	t.Helper()
	r, err := ring.New(q, []ring.Member{{ID: "a"}, {ID: "b"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	trees := &asked{}
	s, err := antientropy.New(antientropy.Config{
		Trees: a.trees, Topology: topology{r: r, handoffs: f.handoffs}, Peers: remote{node: b, asked: trees}, Local: local{a},
		Interval: time.Second, Limiter: pace.New().Limiter("aae", 1000), Pressure: f.pressure,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, trees
}

// checkRepaired: after exchanges over every partition, both replicas hold
// every live key, with both concurrent writes of a key as siblings on
// each, and a never took the dead incarnation's key.
func checkRepaired(t *testing.T, a, b node) {
	t.Helper()
	for i := range 8 {
		for _, k := range []string{"a-only-", "b-only-", "both-", "same-"} {
			key := fmt.Sprint(k, i)
			oa, ob := a.get(t, "default", key), b.get(t, "default", key)
			want := 1
			if k == "both-" {
				want = 2
			}
			if oa.Len() != want || ob.Len() != want || !oa.Context().Equal(ob.Context()) {
				t.Errorf("%s: a has %d siblings, b %d (want %d each, with equal contexts)", key, oa.Len(), ob.Len(), want)
			}
		}
	}
	if !a.get(t, deadNS, "gone").IsZero() {
		t.Error("a merged an object of a dead incarnation")
	}
}

// TestExchangeRepairsBothSides: a started service exchanges every
// partition with the other replica in turn, one per interval, and
// repairs what each side lacks on both.
func TestExchangeRepairsBothSides(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t)
		s, _ := newService(t, a, b, fakes{})
		s.Start(t.Context())
		time.Sleep(q*time.Second + time.Millisecond)
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkRepaired(t, a, b)
		m := s.Metrics()
		if m.Rounds != q || m.Exchanges != q || m.Errors != 0 || m.KeysRepaired == 0 {
			t.Errorf("metrics %+v, want %d rounds and exchanges, no errors, keys repaired", m, q)
		}
	})
}

// TestPausesUnderLoad: ticks under client load are skipped and repair
// nothing; exchanges resume once the load is gone.
func TestPausesUnderLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t)
		var busy atomic.Bool
		busy.Store(true)
		s, _ := newService(t, a, b, fakes{pressure: busy.Load})
		s.Start(t.Context())
		time.Sleep(2*q*time.Second + time.Millisecond)
		synctest.Wait()
		if m := s.Metrics(); m.Rounds != 2*q || m.Skipped != 2*q || m.Exchanges != 0 || m.KeysRepaired != 0 {
			t.Errorf("under load: metrics %+v, want every round skipped", m)
		}
		if !a.get(t, "default", "b-only-0").IsZero() || !b.get(t, "default", "a-only-0").IsZero() {
			t.Error("repaired under load")
		}

		busy.Store(false)
		time.Sleep(q * time.Second)
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkRepaired(t, a, b)
	})
}

// TestLeavesPartitionsInTransferAlone: while a handoff moves a partition to
// or from a, or to or from b, a does not exchange it with b; once the
// transfers are done it does, and repairs everything.
func TestLeavesPartitionsInTransferAlone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t)
		var done atomic.Bool
		handoffs := func() []handoff.Progress {
			return []handoff.Progress{
				{Partition: 0, From: "c", To: "a", Keys: 10, Done: true}, // over: exchanged
				{Partition: 1, From: "c", To: "a", Keys: 5, Done: done.Load()},
				{Partition: 2, From: "b", To: "d", Done: done.Load()},
				{Partition: 3, From: "c", To: "d"}, // neither a nor b: exchanged
			}
		}
		s, trees := newService(t, a, b, fakes{handoffs: handoffs})
		s.Start(t.Context())
		time.Sleep(2*q*time.Second + time.Millisecond)
		synctest.Wait()
		if n := trees.get(); n[0] == 0 || n[1] != 0 || n[2] != 0 || n[3] == 0 {
			t.Errorf("during the handoff: trees asked by partition %v, want none of partitions 1 and 2, some of 0 and 3", n)
		}

		done.Store(true)
		before := trees.get()
		time.Sleep(q * time.Second)
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if n := trees.get(); n[1] == before[1] || n[2] == before[2] {
			t.Errorf("after the handoff: trees asked by partition %v (%v before), want partitions 1 and 2 exchanged", n, before)
		}
		checkRepaired(t, a, b)
	})
}
