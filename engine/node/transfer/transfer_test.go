package transfer_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/node/transfer"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

const partition = 1

// objects are n objects of partition 1, in storage-key order.
func objects(n int) []peer.Object {
	out := make([]peer.Object, n)
	for i := range out {
		out[i] = peer.Object{Namespace: "default", Key: fmt.Appendf(nil, "k%04d", i),
			Object: dvv.Object{}.Update("b.1", dvv.Clock{}, dvv.Sibling{Value: []byte{byte(i)}})}
	}
	return out
}

func cursor(o peer.Object) []byte { return keys.Data(partition, o.Namespace, o.Key) }

// stream is a fake Stream over objs that fails with err after failAfter
// objects (never if failAfter < 0).
type stream struct {
	objs      []peer.Object
	failAfter int
	err       error
	i         int // objects returned so far
	failed    bool
}

func (s *stream) Next() bool {
	if s.failAfter >= 0 && s.i >= s.failAfter {
		s.failed = true
		return false
	}
	if s.i >= len(s.objs) {
		return false
	}
	s.i++
	return true
}
func (s *stream) Object() peer.Object { return s.objs[s.i-1] }
func (s *stream) Cursor() []byte      { return cursor(s.Object()) }
func (s *stream) Size() int           { return 10 }
func (s *stream) Remaining() uint64   { return uint64(10 * (len(s.objs) - s.i)) }
func (s *stream) Close()              {}
func (s *stream) Err() error {
	if s.failed {
		return s.err
	}
	return nil
}

// request is one transfer a Receiver opened.
type request struct {
	from   string
	cursor []byte
}

// peers is a fake: every node holds the same objects; a node in fail
// breaks its stream after that many objects.
type peers struct {
	objs []peer.Object

	mu    sync.Mutex
	fail  map[string]int
	asked []request
}

func (p *peers) Transfer(_ context.Context, from string, req peer.TransferRequest) transfer.Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, request{from, req.Cursor})
	var rest []peer.Object
	for _, o := range p.objs {
		if req.Partition == partition && bytes.Compare(cursor(o), req.Cursor) > 0 {
			rest = append(rest, o)
		}
	}
	failAfter, ok := p.fail[from]
	if !ok {
		failAfter = -1
	}
	return &stream{objs: rest, failAfter: failAfter, err: fmt.Errorf("%w: connection reset", peer.ErrNoAnswer)}
}

// local is a fake replica: the keys received, and the partitions dropped.
type local struct {
	mu       sync.Mutex
	received map[string]int
	dropped  [][]int
}

func (l *local) Receive(_ context.Context, o peer.Object) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received[string(o.Key)]++
	return nil
}

func (l *local) DropPartitions(parts []int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped = append(l.dropped, parts)
	return nil
}

// topology is a fake ring change in which a gains partition 1 from b,
// with c the other old replica.
type topology struct {
	prev, cur ring.Ring
	plan      []handoff.Transfer // nil: partition 1 from b
	down      map[string]bool
	complete  bool

	mu      sync.Mutex
	reports []handoff.Report
}

func (t *topology) Self() string         { return "a" }
func (t *topology) Alive(id string) bool { return !t.down[id] }
func (t *topology) Transition() (ring.Ring, ring.Ring, []handoff.Transfer, int, bool) {
	plan := t.plan
	if plan == nil {
		plan = []handoff.Transfer{{Partition: partition, From: "b", To: "a"}}
	}
	return t.prev, t.cur, plan, 3, true
}
func (t *topology) Handoffs() (uint64, []handoff.Progress, bool) {
	return t.cur.Epoch(), nil, t.complete
}
func (t *topology) PublishReport(rep handoff.Report) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reports = append(t.reports, rep)
	return nil
}

// lastReport is the progress of the one transfer in the last report.
func (t *topology) lastReport(tb testing.TB) handoff.Progress {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reports) == 0 || len(t.reports[len(t.reports)-1].Transfers) != 1 {
		tb.Fatalf("reports %+v, want one transfer in the last", t.reports)
	}
	return t.reports[len(t.reports)-1].Transfers[0]
}

type fixture struct {
	top   *topology
	peers *peers
	local *local
	store storage.Engine
}

func newFixture(t *testing.T, n int) fixture {
	t.Helper()
	r, err := ring.New(64, []ring.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{
		top:   &topology{prev: r, cur: r, down: map[string]bool{}},
		peers: &peers{objs: objects(n), fail: map[string]int{}},
		local: &local{received: map[string]int{}},
		store: memory.New(),
	}
}

func (f fixture) receiver() *transfer.Receiver {
	return transfer.New(transfer.Config{
		Store: f.store, Local: f.local, Topology: f.top, Peers: f.peers,
		Interval: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func (f fixture) asked() []request {
	f.peers.mu.Lock()
	defer f.peers.mu.Unlock()
	return slices.Clone(f.peers.asked)
}

func (f fixture) checkAllReceived(t *testing.T, n int) {
	t.Helper()
	f.local.mu.Lock()
	defer f.local.mu.Unlock()
	for _, o := range objects(n) {
		if f.local.received[string(o.Key)] == 0 {
			t.Fatalf("%s not received (received %d keys)", o.Key, len(f.local.received))
		}
	}
}

// TestReceiverFetchesAPartition: a Receiver pulls its partition from the
// planned source (across more than one saved batch), reports it done
// with its key count and no cursor, and does not fetch it again.
func TestReceiverFetchesAPartition(t *testing.T) {
	t.Parallel()
	const n = 600
	f := newFixture(t, n)
	r := f.receiver()
	r.Round(t.Context())

	f.checkAllReceived(t, n)
	if got := f.asked(); len(got) != 1 || got[0].from != "b" || got[0].cursor != nil {
		t.Fatalf("asked %+v, want b once from the start", got)
	}
	if pr := f.top.lastReport(t); !pr.Done || pr.Keys != n || pr.Bytes != 10*n || pr.From != "b" || pr.To != "a" || pr.Cursor != nil {
		t.Errorf("reported %+v, want done, %d keys from b, without a cursor", pr, n)
	}
	r.Round(t.Context())
	if got := f.asked(); len(got) != 1 {
		t.Errorf("a done partition fetched again: %+v", got)
	}
}

// TestReceiverResumesFromTheSavedCursor: a pull that breaks after a saved
// batch, with no other source alive, resumes in the next round (a new
// Receiver over the same store, as after a restart) from the cursor of
// the last saved batch, and completes with every key counted once.
func TestReceiverResumesFromTheSavedCursor(t *testing.T) {
	t.Parallel()
	const n = 300
	f := newFixture(t, n)
	f.peers.fail["b"] = 260 // after the first batch of 256 is saved
	f.top.down["c"] = true
	f.receiver().Round(t.Context())

	if pr := f.top.lastReport(t); pr.Done || pr.Keys != 256 {
		t.Fatalf("reported %+v after the break, want 256 keys, not done", pr)
	}
	delete(f.peers.fail, "b")
	f.receiver().Round(t.Context())

	f.checkAllReceived(t, n)
	asked := f.asked()
	if len(asked) != 2 || asked[1].from != "b" || !bytes.Equal(asked[1].cursor, cursor(objects(n)[255])) {
		t.Fatalf("asked %+v, want b again from the 256th key", asked)
	}
	if pr := f.top.lastReport(t); !pr.Done || pr.Keys != n {
		t.Errorf("reported %+v, want done with %d keys", pr, n)
	}
}

// TestReceiverFallsBack: when the planned source fails, the Receiver
// pulls from the next old replica, from where the first stopped.
func TestReceiverFallsBack(t *testing.T) {
	t.Parallel()
	for _, failAfter := range []int{0, 100} {
		const n = 200
		f := newFixture(t, n)
		f.peers.fail["b"] = failAfter
		f.receiver().Round(t.Context())

		f.checkAllReceived(t, n)
		asked := f.asked()
		var wantCursor []byte
		if failAfter > 0 {
			wantCursor = cursor(objects(n)[failAfter-1])
		}
		if len(asked) != 2 || asked[0].from != "b" || asked[1].from != "c" || !bytes.Equal(asked[1].cursor, wantCursor) {
			t.Fatalf("b fails after %d: asked %+v, want b then c from %q", failAfter, asked, wantCursor)
		}
		if pr := f.top.lastReport(t); !pr.Done || pr.From != "c" || pr.Keys != n {
			t.Errorf("b fails after %d: reported %+v, want done from c with %d keys", failAfter, pr, n)
		}
	}
}

// TestReceiverHoldsBackReportsWithinReportEvery: a round that receives
// many partitions within handoff.ReportEvery publishes its progress twice
// (the first partition's report and, at the round's end, the one held
// back), not once per partition, and the last report has every transfer
// done. Every report is a gossip document each node pulls.
func TestReceiverHoldsBackReportsWithinReportEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the clock stands still: the round takes no time
		f := newFixture(t, 10)
		for p := range 40 {
			f.top.plan = append(f.top.plan, handoff.Transfer{Partition: p, From: "b", To: "a"})
		}
		f.receiver().Round(t.Context())

		f.checkAllReceived(t, 10)
		if len(f.top.reports) != 2 {
			t.Fatalf("%d reports for 40 partitions received at once, want 2", len(f.top.reports))
		}
		last := f.top.reports[1]
		if len(last.Transfers) != 40 {
			t.Fatalf("last report has %d transfers, want 40", len(last.Transfers))
		}
		for _, pr := range last.Transfers {
			if !pr.Done {
				t.Errorf("last report: partition %d not done: %+v", pr.Partition, pr)
			}
		}

	})
}

// countingStore counts the reads of a store.
type countingStore struct {
	storage.Engine
	reads atomic.Int64
}

func (s *countingStore) Get(k []byte) ([]byte, error) {
	s.reads.Add(1)
	return s.Engine.Get(k)
}

// TestReceiverSettlesACompleteChange: once the change is complete, this
// node's transfers done and its given-up partitions dropped, later rounds
// of the same change read nothing (they loaded every transfer's saved
// progress, twice a second, until the next ring change).
func TestReceiverSettlesACompleteChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10)
	store := &countingStore{Engine: f.store}
	f.store = store
	r := f.receiver()
	r.Round(t.Context())
	f.checkAllReceived(t, 10)
	r.Round(t.Context()) // not complete yet: the change is not settled
	if store.reads.Load() == 0 {
		t.Fatal("rounds of an incomplete change read nothing")
	}
	f.top.complete = true
	r.Round(t.Context()) // drops, and settles
	if len(f.local.dropped) != 1 {
		t.Fatalf("dropped %v, want once", f.local.dropped)
	}
	before := store.reads.Load()
	r.Round(t.Context())
	r.Round(t.Context())
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("two rounds of a settled change read the store %d times, want none", n)
	}
}

// TestReceiverDropsOnlyOnceComplete: the partitions this node gave up are
// dropped once every transfer of the change is done, and once per change.
func TestReceiverDropsOnlyOnceComplete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	r := f.receiver()
	r.Round(t.Context())
	if len(f.local.dropped) != 0 {
		t.Fatalf("dropped %v before the change completed", f.local.dropped)
	}
	f.top.complete = true
	r.Round(t.Context())
	r.Round(t.Context())
	if len(f.local.dropped) != 1 {
		t.Errorf("dropped %v, want once", f.local.dropped)
	}
}

// TestServe: the serving side sends a partition's objects (of one
// namespace, if asked) in storage-key order from after the cursor, with
// the bytes left decreasing to zero; a partition out of range is refused.
func TestServe(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	var b storage.Batch
	put := func(p uint16, ns, key string) {
		raw, err := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte(key)}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b.Set(keys.Data(p, ns, []byte(key)), raw)
	}
	for _, k := range []string{"c", "a", "b"} {
		put(1, "x", k)
		put(1, "y", k)
		put(0, "x", k+"0")
		put(2, "x", k+"2")
	}
	if err := eng.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  peer.TransferRequest
		want []string // namespace/key
	}{
		{"partition", peer.TransferRequest{Partition: 1}, []string{"x/a", "x/b", "x/c", "y/a", "y/b", "y/c"}},
		{"namespace", peer.TransferRequest{Partition: 1, Namespace: "y"}, []string{"y/a", "y/b", "y/c"}},
		{"after a cursor", peer.TransferRequest{Partition: 1, Cursor: keys.Data(1, "x", []byte("b"))}, []string{"x/c", "y/a", "y/b", "y/c"}},
		{"cursor in namespace", peer.TransferRequest{Partition: 1, Namespace: "y", Cursor: keys.Data(1, "y", []byte("a"))}, []string{"y/b", "y/c"}},
	} {
		var got []string
		var remaining []uint64
		err := transfer.Serve(t.Context(), eng, 3, tc.req, func(o peer.Object, left uint64) error {
			if sib := o.Object.Siblings(); len(sib) != 1 || !bytes.Equal(sib[0].Value, o.Key) {
				t.Errorf("%s: %s/%s came with %v", tc.name, o.Namespace, o.Key, sib)
			}
			got = append(got, o.Namespace+"/"+string(o.Key))
			remaining = append(remaining, left)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: sent %v, want %v", tc.name, got, tc.want)
		}
		if !slices.IsSortedFunc(remaining, func(a, b uint64) int { return cmp.Compare(b, a) }) || remaining[len(remaining)-1] != 0 || remaining[0] == 0 {
			t.Errorf("%s: remaining %v, want decreasing to 0", tc.name, remaining)
		}
	}

	stop := errors.New("receiver gone")
	sent := 0
	if err := transfer.Serve(t.Context(), eng, 3, peer.TransferRequest{Partition: 1}, func(peer.Object, uint64) error { sent++; return stop }); !errors.Is(err, stop) || sent != 1 {
		t.Errorf("a failing send: err %v after %d objects, want its error after 1", err, sent)
	}
	var inv *errs.InvalidError
	if err := transfer.Serve(t.Context(), eng, 3, peer.TransferRequest{Partition: 3}, func(peer.Object, uint64) error { return nil }); !errors.As(err, &inv) {
		t.Errorf("partition out of range: err = %v, want an InvalidError", err)
	}
}
