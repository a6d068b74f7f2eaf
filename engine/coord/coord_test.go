package coord_test

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
	hints  map[string][]string      // fallback → intended owners it was given
	reads  map[string]int           // peer reads each node answered
	stall  map[string]chan struct{} // reads of these nodes wait until it closes
	delay  map[string]time.Duration // reads of these nodes take this long (synctest tests only)
	synced map[string]int           // synced replications each node was sent
}

var order = []string{"a", "b", "c", "d", "e"}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{stores: map[string]*replica.Store{}, down: map[string]bool{}, hints: map[string][]string{},
		reads: map[string]int{}, stall: map[string]chan struct{}{}, delay: map[string]time.Duration{},
		synced: map[string]int{}}
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
	p.c.mu.Lock()
	if r.Sync {
		p.c.synced[to]++
	}
	p.c.mu.Unlock()
	if r.IntendedOwner != "" {
		p.c.mu.Lock()
		p.c.hints[to] = append(p.c.hints[to], r.IntendedOwner)
		p.c.mu.Unlock()
		return r.Sync, s.StoreHint(r.IntendedOwner, r.Namespace, r.Key, r.Object, r.Sync)
	}
	_, err := s.Merge(r.Namespace, r.Key, r.Object, r.Sync)
	return r.Sync, err
}

// replicas is the N every test uses: a, b, c are the replicas, d, e the
// fallbacks.
const replicas = 3

// Read answers as node.ReadLocal does: a replica with its copy, a fallback
// with its copy and the hints it keeps for the key.
func (p peers) Read(_ context.Context, to, ns string, key []byte) (dvv.Object, error) {
	if p.c.isDown(to) {
		return dvv.Object{}, errDown
	}
	p.c.mu.Lock()
	p.c.reads[to]++
	stall, delay := p.c.stall[to], p.c.delay[to]
	p.c.mu.Unlock()
	if stall != nil {
		<-stall
	}
	if delay > 0 {
		// Only tests inside a synctest bubble set a delay
		// (TestReadsAskTheFastestReplica, TestReadHedgesWhenAFastReplicaTurnsSlow):
		// this Sleep is the bubble's fake time, a reply time to order and
		// hedge by, not a wait for a condition.
		time.Sleep(delay)
	}
	if slices.Index(order, to) >= replicas {
		return p.c.stores[to].GetWithHints(ns, key)
	}
	return p.c.stores[to].Get(ns, key)
}

func (c *cluster) coordinator(self string) *coord.Coordinator {
	return c.coordinatorWith(self, coord.Options{})
}

// coordinatorWith returns self's coordinator with opts, one-second
// timeouts unless opts say otherwise.
func (c *cluster) coordinatorWith(self string, opts coord.Options) *coord.Coordinator {
	opts.WriteTimeout = cmp.Or(opts.WriteTimeout, time.Second)
	opts.ReadTimeout = cmp.Or(opts.ReadTimeout, time.Second)
	opts.Logger = slog.New(slog.DiscardHandler)
	return coord.New(c.stores[self], view{c, self}, peers{c}, opts)
}

// peerReads returns how many peer reads each node answered.
func (c *cluster) peerReads() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.reads)
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

// asyncPeers offer ReplicateAsync, as a node's peer client does, and
// count the calls of each kind.
type asyncPeers struct {
	peers
	async, direct *atomic.Int64
}

func (p asyncPeers) Replicate(ctx context.Context, to string, r coord.Replication) (bool, error) {
	p.direct.Add(1)
	return p.peers.Replicate(ctx, to, r)
}

func (p asyncPeers) ReplicateAsync(ctx context.Context, to string, r coord.Replication, done func(bool, error)) {
	p.async.Add(1)
	go func() { done(p.peers.Replicate(ctx, to, r)) }()
}

// TestWritesUseReplicateAsyncWhenOffered: with peers that can start a
// Replicate without waiting, a write hands every copy to them that way,
// hints for nodes that are down included, and counts their answers as it
// counts Replicate's.
func TestWritesUseReplicateAsyncWhenOffered(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.down["c"] = true
	p := asyncPeers{peers: peers{c}, async: new(atomic.Int64), direct: new(atomic.Int64)}
	co := coord.New(c.stores["a"], view{c, "a"}, p, coord.Options{WriteTimeout: time.Second, ReadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	_, acks, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 3, DW: 3, Sync: true, Apply: write("v")})
	if err != nil || acks != 3 {
		t.Fatalf("write with c down: acks %d, %v; want 3", acks, err)
	}
	co.Wait()
	// b, and d for c (down, so not asked) as a hint.
	if p.async.Load() != 2 || p.direct.Load() != 0 {
		t.Fatalf("%d ReplicateAsync and %d Replicate calls; want 2 and none", p.async.Load(), p.direct.Load())
	}
	if o, _ := c.stores["b"].Get("ns", []byte("k")); !o.HasLive() {
		t.Error("replica b lacks the write")
	}
	if !slices.Equal(c.hints["d"], []string{"c"}) || co.Stats.HintedWrites.Load() != 1 {
		t.Errorf("hints %v, hinted writes %d; want d keeping one for c", c.hints, co.Stats.HintedWrites.Load())
	}
}

// heldPeers hold every Replicate to node c until release closes, and
// then fail it; the rest answer as peers do.
type heldPeers struct {
	peers
	release chan struct{}
}

func (p heldPeers) ReplicateAsync(ctx context.Context, to string, r coord.Replication, done func(bool, error)) {
	go func() {
		if to == "c" {
			<-p.release
			done(false, errDown)
			return
		}
		done(p.peers.Replicate(ctx, to, r))
	}()
}

// TestAFailureAfterTheAnswerStillHints: a replica that fails after the
// write was answered is still covered: the answer that brings the failure
// sends the object to the next fallback as a hint, and Wait waits for it.
func TestAFailureAfterTheAnswerStillHints(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := heldPeers{peers: peers{c}, release: make(chan struct{})}
	co := coord.New(c.stores["a"], view{c, "a"}, p, coord.Options{WriteTimeout: time.Second, ReadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	_, acks, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 2, Apply: write("v")})
	if err != nil || acks != 2 {
		t.Fatalf("write with c held: acks %d, %v; want 2", acks, err)
	}
	c.mu.Lock()
	early := len(c.hints["d"])
	c.mu.Unlock()
	close(p.release)
	co.Wait()
	if early != 0 || !slices.Equal(c.hints["d"], []string{"c"}) {
		t.Fatalf("hints on d: %d before c failed, %v after; want none, then one for c", early, c.hints["d"])
	}
	if o, _ := c.stores["d"].GetWithHints("ns", []byte("k")); !o.HasLive() {
		t.Error("d keeps no hint of the write")
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

// TestReadQuorumFailsWhenTooFewAnswer: every node but a is down, so no
// fallback can stand in for b and c either.
func TestReadQuorumFailsWhenTooFewAnswer(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, id := range []string{"b", "c", "d", "e"} {
		c.down[id] = true
	}
	co := c.coordinator("a")
	_, replies, err := co.Read(t.Context(), "ns", []byte("k"), 3, 2)
	var q *errs.QuorumError
	if !errors.As(err, &q) || q.Op != "read" || replies != 1 {
		t.Fatalf("read with two replicas down: %d replies, %v", replies, err)
	}
	co.Wait()
}

// TestReadCountsHintsOnFallbacks is the minority side of a partition: b
// and c are unreachable, so a write through a is acknowledged by a and the
// hints d and e keep for b and c (sloppy quorum). A read with R=2 is then
// answered by the first two healthy nodes of a, b, c, d, e, the fallbacks
// from their hints — whether the coordinator is a replica or a fallback
// itself: what a sloppy quorum acknowledged, a sloppy quorum reads.
func TestReadCountsHintsOnFallbacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		down        []string
		coordinator string
	}{
		{"a replica and a fallback", []string{"b", "c", "d"}, "a"},
		{"a fallback and another", []string{"a", "b", "c"}, "d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			c.down["b"], c.down["c"] = true, true
			a := c.coordinator("a")
			obj, _, err := a.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: replicas, W: 3, Apply: write("v")})
			if err != nil {
				t.Fatalf("sloppy write: %v", err)
			}
			a.Wait()
			c.mu.Lock()
			c.down = map[string]bool{}
			for _, id := range tc.down {
				c.down[id] = true
			}
			c.mu.Unlock()
			co := c.coordinator(tc.coordinator)
			got, replies, err := co.Read(t.Context(), "ns", []byte("k"), replicas, 2)
			if err != nil || replies != 2 || !got.Equal(obj) {
				t.Fatalf("read through %s: %v, %d replies, %v; want the written value from 2 nodes", tc.coordinator, got.Siblings(), replies, err)
			}
			co.Wait()
		})
	}
}

// TestReadRepairLeavesFallbacksAlone: a holds one value; d and e hold a
// concurrent one only as hints for b and c, which are down. A read with
// R=3 sees both and answers their merge; read repair brings a up to it but
// writes nothing into d and e (they are no replicas), and their hints stay
// as they were, to be delivered to b and c.
func TestReadRepairLeavesFallbacksAlone(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	k := []byte("k")
	old := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("at-a")})
	hinted := dvv.Object{}.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("hinted")})
	if _, err := c.stores["a"].Merge("ns", k, old, false); err != nil {
		t.Fatal(err)
	}
	for fb, owner := range map[string]string{"d": "b", "e": "c"} {
		if err := c.stores[fb].StoreHint(owner, "ns", k, hinted, false); err != nil {
			t.Fatal(err)
		}
	}
	c.down["b"], c.down["c"] = true, true
	co := c.coordinator("a")
	want := dvv.Sync(old, hinted)
	got, replies, err := co.Read(t.Context(), "ns", k, replicas, 3)
	if err != nil || replies != 3 || !got.Equal(want) {
		t.Fatalf("read: %v, %d replies, %v; want both values from a, d and e", got.Siblings(), replies, err)
	}
	co.Wait()
	if o, _ := c.stores["a"].Get("ns", k); !o.Equal(want) {
		t.Fatal("read repair did not bring the replica a up to the merge")
	}
	for fb, owner := range map[string]string{"d": "b", "e": "c"} {
		if o, _ := c.stores[fb].Get("ns", k); !o.IsZero() {
			t.Errorf("read repair stored the merge on the fallback %s as a replica: %v", fb, o.Siblings())
		}
		if h, _ := c.stores[fb].Hints(owner, 10); len(h) != 1 || !h[0].Object.Equal(hinted) {
			t.Errorf("the hint %s keeps for %s changed: %+v", fb, owner, h)
		}
	}
	if n := co.Stats.ReadRepairs.Load(); n != 1 {
		t.Errorf("read repairs = %d, want 1 (a only)", n)
	}
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

// TestQuorumReadAsksR: with R=2 of N=3, a read asks its own copy and one
// live replica, not the third (nor a fallback for a replica that is
// down); with FullReadChance 1 it asks all three.
func TestQuorumReadAsksR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		chance float64
		down   string
		want   map[string]int
	}{
		{"R of N", -1, "", map[string]int{"b": 1}},
		{"R of N, first replica down", -1, "b", map[string]int{"c": 1}},
		{"all N", 1, "", map[string]int{"b": 1, "c": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			if tc.down != "" {
				c.down[tc.down] = true
			}
			co := c.coordinatorWith("a", coord.Options{FullReadChance: tc.chance})
			if _, replies, err := co.Read(t.Context(), "ns", []byte("k"), replicas, 2); err != nil || replies != 2 {
				t.Fatalf("read: %d replies, %v", replies, err)
			}
			co.Wait()
			if got := c.peerReads(); !maps.Equal(got, tc.want) {
				t.Errorf("peer reads %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadsAskTheFastestReplica: a replica that answers reads slowly (one
// busy with background work, or on a sick machine) is asked after the
// one that answers fast, once the coordinator has seen both answer: the
// reads answer in the fast replica's time, not after the hedge delay, and
// a synced write asks the fast one to sync.
func TestReadsAskTheFastestReplica(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t)
		c.delay["b"] = 8 * time.Millisecond // first in the preference list, and slow
		c.delay["c"] = time.Millisecond
		co := c.coordinatorWith("a", coord.Options{FullReadChance: -1, ReadHedgeDelay: 20 * time.Millisecond})
		read := func() time.Duration {
			start := time.Now()
			if _, replies, err := co.Read(t.Context(), "ns", []byte("k"), replicas, 2); err != nil || replies != 2 {
				t.Fatalf("read: %d replies, %v", replies, err)
			}
			return time.Since(start)
		}
		// Neither has answered yet: b, first in the preference list, is
		// asked; then c, which has no reply time yet.
		if d := read(); d != 8*time.Millisecond {
			t.Fatalf("first read took %v, want b's 8ms", d)
		}
		if d := read(); d != time.Millisecond {
			t.Fatalf("second read took %v, want c's 1ms", d)
		}
		for i := range 20 {
			if d := read(); d != time.Millisecond {
				t.Fatalf("read %d took %v, want c's 1ms", i+3, d)
			}
		}
		if _, _, err := co.Write(t.Context(), coord.WriteRequest{Namespace: "ns", Key: []byte("k"), N: 3, W: 2, DW: 2, Sync: true, Apply: write("v")}); err != nil {
			t.Fatal(err)
		}
		co.Wait()
		if got := c.peerReads(); got["b"] != 1 || got["c"] != 21 {
			t.Errorf("peer reads %v, want b 1 and c 21", got)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if want := map[string]int{"c": 1}; !maps.Equal(c.synced, want) {
			t.Errorf("synced replications %v, want %v: DW=2 asks the faster replica to sync", c.synced, want)
		}
	})
}

// TestReadHedgesWhenAFastReplicaTurnsSlow: a replica that has answered
// every read in 1ms suddenly takes 15ms (a collection, a disk stall, a
// burst of background work), before its average shows it. The read does
// not wait it out, nor the 20ms hedge ceiling: once the replica is late by
// its own record (its average plus four deviations, at least the 2ms
// floor), the read asks the third replica and answers with it. With a
// fixed hedge delay it waited the slow replica's 15ms.
func TestReadHedgesWhenAFastReplicaTurnsSlow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t)
		c.delay["b"] = time.Millisecond
		c.delay["c"] = time.Millisecond
		co := c.coordinatorWith("a", coord.Options{FullReadChance: -1, ReadHedgeDelay: 20 * time.Millisecond, ReadHedgeFloor: 2 * time.Millisecond})
		read := func() time.Duration {
			start := time.Now()
			if _, replies, err := co.Read(t.Context(), "ns", []byte("k"), replicas, 2); err != nil || replies != 2 {
				t.Fatalf("read: %d replies, %v", replies, err)
			}
			return time.Since(start)
		}
		for i := range 16 { // b and c both answer; then b, first in the list, is asked
			if d := read(); d != time.Millisecond {
				t.Fatalf("read %d took %v, want 1ms", i+1, d)
			}
		}
		co.Wait()
		c.mu.Lock()
		c.delay["b"] = 15 * time.Millisecond
		before := c.reads["c"]
		c.mu.Unlock()
		if n := co.Stats.ReadHedges.Load(); n != 0 {
			t.Fatalf("%d reads hedged while both replicas answered in 1ms", n)
		}
		d := read()
		if d >= 15*time.Millisecond {
			t.Fatalf("read took %v: it waited for the slow replica", d)
		}
		if d < 2*time.Millisecond+time.Millisecond {
			t.Fatalf("read took %v, less than the 2ms floor and c's 1ms reply", d)
		}
		co.Wait()
		if n := co.Stats.ReadHedges.Load(); n != 1 {
			t.Errorf("ReadHedges %d, want the slow read's 1", n)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.reads["c"] != before+1 {
			t.Errorf("c was read %d times by the slow read, want once", c.reads["c"]-before)
		}
	})
}

// TestReadHedgesPastSlowReplica: the replica a read asked first does not
// answer; after the hedge delay the read asks the third replica and is
// answered by it, long before its timeout.
func TestReadHedgesPastSlowReplica(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t)
		obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
		if _, err := c.stores["c"].Merge("ns", []byte("k"), obj, false); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		c.stall["b"] = release
		co := c.coordinatorWith("a", coord.Options{FullReadChance: -1, ReadHedgeDelay: 5 * time.Millisecond, ReadTimeout: time.Minute})
		start := time.Now()
		got, replies, err := co.Read(t.Context(), "ns", []byte("k"), replicas, 2)
		if err != nil || replies != 2 || !got.Equal(obj) {
			t.Fatalf("read: %v, %d replies, %v; want c's object from 2 replies", got.Siblings(), replies, err)
		}
		if waited := time.Since(start); waited != 5*time.Millisecond {
			t.Errorf("answered after %v, want the hedge delay 5ms", waited)
		}
		close(release)
		co.Wait()
		if o, _ := c.stores["b"].Get("ns", []byte("k")); !o.Equal(obj) {
			t.Error("read repair did not reach b once it answered")
		}
	})
}
