package coord_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// cluster is a fake of five nodes a..e in ring order: the preference list
// of every key is a, b, c and the fallbacks are d, e. Each node has its own
// in-memory replica store; "down" nodes fail every call.
type cluster struct {
	mu     sync.Mutex
	stores map[string]*replica.Store
	down   map[string]bool
	hints  map[string][]string // fallback → intended owners it was given
}

var order = []string{"a", "b", "c", "d", "e"}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{stores: map[string]*replica.Store{}, down: map[string]bool{}, hints: map[string][]string{}}
	for _, id := range order {
		s, err := replica.New(memory.New(), 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.stores[id] = s
	}
	return c
}

func (c *cluster) isDown(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down[id]
}

// view is node self's view of the fake cluster.
type view struct {
	c    *cluster
	self string
}

func (v view) Self() string { return v.self }

func (v view) Replicas(_ uint16, n int) ([]string, []string) {
	return slices.Clone(order[:n]), slices.Clone(order[n:])
}

func (v view) Alive(id string) bool { return !v.c.isDown(id) }

var errDown = errors.New("node down")

// peers reaches the fake cluster's stores.
type peers struct{ c *cluster }

func (p peers) Replicate(_ context.Context, to string, r coord.Replication) (bool, error) {
	if p.c.isDown(to) {
		return false, errDown
	}
	s := p.c.stores[to]
	if r.IntendedOwner != "" {
		p.c.mu.Lock()
		p.c.hints[to] = append(p.c.hints[to], r.IntendedOwner)
		p.c.mu.Unlock()
		return r.Sync, s.StoreHint(r.IntendedOwner, r.Namespace, r.Key, r.Object, r.Sync)
	}
	_, err := s.Merge(r.Namespace, r.Key, r.Object, r.Sync)
	return r.Sync, err
}

func (p peers) Read(_ context.Context, to, ns string, key []byte) (dvv.Object, error) {
	if p.c.isDown(to) {
		return dvv.Object{}, errDown
	}
	return p.c.stores[to].Get(ns, key)
}

func (c *cluster) coordinator(self string) *coord.Coordinator {
	return coord.New(c.stores[self], view{c, self}, peers{c}, coord.Options{
		WriteTimeout: time.Second, ReadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler),
	})
}

func write(value string) func(dvv.Object) (dvv.Object, error) {
	return func(cur dvv.Object) (dvv.Object, error) {
		return cur.Update("a", cur.Context(), dvv.Sibling{Value: []byte(value)}), nil
	}
}

func TestWriteReachesEveryReplica(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	co := c.coordinator("a")
	_, acks, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 3, DW: 3, Sync: true, Apply: write("v")})
	if err != nil || acks != 3 {
		t.Fatalf("write: acks %d, %v", acks, err)
	}
	co.Wait()
	for _, id := range []string{"a", "b", "c"} {
		if o, _ := c.stores[id].Get("ns", []byte("k")); !o.HasLive() {
			t.Errorf("replica %s lacks the write", id)
		}
	}
	for _, id := range []string{"d", "e"} {
		if o, _ := c.stores[id].Get("ns", []byte("k")); !o.IsZero() {
			t.Errorf("fallback %s got the write although every replica was up", id)
		}
	}
}

// TestSloppyQuorumHintsToTheNextHealthyNode: with b and c down, d and e
// take the write as hints for them and count toward W.
func TestSloppyQuorumHintsToTheNextHealthyNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.down["b"], c.down["c"] = true, true
	co := c.coordinator("a")
	_, acks, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 3, Apply: write("v")})
	if err != nil || acks != 3 {
		t.Fatalf("write with two replicas down: acks %d, %v", acks, err)
	}
	co.Wait()
	var owners []string
	for _, fb := range []string{"d", "e"} {
		owners = append(owners, c.hints[fb]...)
	}
	slices.Sort(owners)
	if !slices.Equal(owners, []string{"b", "c"}) {
		t.Fatalf("hints went to %v, want one for b and one for c", c.hints)
	}
	if co.Stats.HintedWrites.Load() != 2 {
		t.Errorf("hinted writes = %d", co.Stats.HintedWrites.Load())
	}
}

// TestNoFallbackLeftKeepsTheHintHereWithoutAck: every other node down. The
// write is applied here and a hint kept for each replica, but W=2 is not
// reached: UNAVAILABLE with the counts.
func TestNoFallbackLeftKeepsTheHintHereWithoutAck(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, id := range []string{"b", "c", "d", "e"} {
		c.down[id] = true
	}
	co := c.coordinator("a")
	_, acks, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 2, Apply: write("v")})
	var q *errs.QuorumError
	if !errors.As(err, &q) || q.Got != 1 || q.Need != 2 || acks != 1 {
		t.Fatalf("write alone: acks %d, %v; want a quorum error 1 of 2", acks, err)
	}
	co.Wait()
	if got := c.stores["a"].HintBacklog(); got != 2 {
		t.Fatalf("hints kept on the coordinator = %d, want one for b and one for c", got)
	}
	if o, _ := c.stores["a"].Get("ns", []byte("k")); !o.HasLive() {
		t.Fatal("the coordinator did not keep its own copy")
	}
}

func TestDurableAcksAreCountedApart(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	co := c.coordinator("a")
	// Buffered writes: no replica reports durable, so DW=1 cannot be met.
	_, _, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 2, DW: 1, Sync: false, Apply: write("v")})
	var q *errs.QuorumError
	if !errors.As(err, &q) {
		t.Fatalf("DW=1 with unsynced writes: %v, want a quorum error", err)
	}
	co.Wait()
}

// TestReadMergesAndRepairs: one replica is stale; a read with R=3 answers
// the merge and brings it up to date.
func TestReadMergesAndRepairs(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("fresh")})
	for _, id := range []string{"a", "b"} {
		if _, err := c.stores[id].Merge("ns", []byte("k"), obj, false); err != nil {
			t.Fatal(err)
		}
	}
	co := c.coordinator("a")
	got, replies, err := co.Read(t.Context(), "ns", []byte("k"), 3, 3)
	if err != nil || replies != 3 || !got.Equal(obj) {
		t.Fatalf("read: %v replies %d, %v", got.Siblings(), replies, err)
	}
	co.Wait()
	if o, _ := c.stores["c"].Get("ns", []byte("k")); !o.Equal(obj) {
		t.Fatal("read repair did not reach the stale replica")
	}
	if co.Stats.ReadRepairs.Load() != 1 {
		t.Errorf("read repairs = %d, want 1", co.Stats.ReadRepairs.Load())
	}
}

func TestReadQuorumFailsWhenTooFewAnswer(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.down["b"], c.down["c"] = true, true
	co := c.coordinator("a")
	_, replies, err := co.Read(t.Context(), "ns", []byte("k"), 3, 2)
	var q *errs.QuorumError
	if !errors.As(err, &q) || q.Op != "read" || replies != 1 {
		t.Fatalf("read with two replicas down: %d replies, %v", replies, err)
	}
	co.Wait()
}

func TestOnlyPreferenceListNodesCoordinate(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.down["a"] = true
	ok, others := c.coordinator("d").IsCoordinator("ns", []byte("k"), 3)
	if ok || !slices.Equal(others, []string{"b", "c", "a"}) {
		t.Fatalf("d coordinates=%v, forward to %v; want false and the live replicas first", ok, others)
	}
	if ok, _ := c.coordinator("b").IsCoordinator("ns", []byte("k"), 3); !ok {
		t.Fatal("b is in the preference list and must coordinate")
	}
}
