package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/nsstats"
	"github.com/concord-kv/concord/engine/peer"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
	"github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1/peerv1connect"
)

// memLocal is a node held in memory: objects by storage key, and a record
// of what the calls that change something were given.
type memLocal struct {
	mu      sync.Mutex
	objs    map[string]peer.Object // by storage key (keys.Data)
	modules map[string][]byte
	tree    map[uint16][]uint64
	stats   map[string]nsstats.Stats // by namespace

	applied     []applyCall
	coordinated []peer.CoordinateRequest
	segments    [][]uint32
	transfers   []peer.TransferRequest
	transferred chan error // what each Transfer returned
	// holdAfterFirst makes Transfer wait, after its first object, until
	// its context ends.
	holdAfterFirst bool
}

type applyCall struct {
	objs          []peer.Object
	sync          bool
	intendedOwner string
}

func newMemLocal() *memLocal {
	return &memLocal{
		objs:        map[string]peer.Object{},
		modules:     map[string][]byte{},
		tree:        map[uint16][]uint64{},
		transferred: make(chan error, 16),
	}
}

// put stores an object in partition p.
func (l *memLocal) put(p uint16, o peer.Object) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objs[string(keys.Data(p, o.Namespace, o.Key))] = o
}

func (l *memLocal) Apply(_ context.Context, objs []peer.Object, sync bool, intendedOwner string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applied = append(l.applied, applyCall{objs: objs, sync: sync, intendedOwner: intendedOwner})
	return sync, nil
}

func (l *memLocal) ReadLocal(_ context.Context, ns string, key []byte) (dvv.Object, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.objs {
		if o.Namespace == ns && bytes.Equal(o.Key, key) {
			return o.Object, nil
		}
	}
	return dvv.Object{}, nil
}

func (l *memLocal) Coordinate(_ context.Context, req peer.CoordinateRequest) (dvv.Object, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.coordinated = append(l.coordinated, req)
	obj, acks := coordinated(req)
	return obj, acks, nil
}

// coordinated is what memLocal answers a write with.
func coordinated(req peer.CoordinateRequest) (dvv.Object, int) {
	var o dvv.Object
	return o.Update("coordinator", dvv.Clock{}, dvv.Sibling{Value: req.Value, Tombstone: req.Tombstone}), int(req.W)
}

// calls returns what the calls that change something were given so far.
func (l *memLocal) calls() (applied []applyCall, coord []peer.CoordinateRequest, segments [][]uint32, transfers []peer.TransferRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.applied), slices.Clone(l.coordinated), slices.Clone(l.segments), slices.Clone(l.transfers)
}

func (l *memLocal) Tree(_ context.Context, p uint16) ([]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree[p], nil
}

// Segment answers every object of the partition whose key's length is one
// of the segments: a stand-in for the tree's hash that a test can predict.
func (l *memLocal) Segment(_ context.Context, p uint16, segments []uint32) ([]peer.Object, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.segments = append(l.segments, segments)
	var out []peer.Object
	lo, hi := keys.PartitionRange(p)
	for _, k := range slices.Sorted(maps.Keys(l.objs)) {
		if k >= string(lo) && k < string(hi) && slices.Contains(segments, uint32(len(l.objs[k].Key))) {
			out = append(out, l.objs[k])
		}
	}
	return out, nil
}

// Transfer sends the objects as a node does: in storage-key order after
// the cursor, each with the bytes of the range left after it.
func (l *memLocal) Transfer(ctx context.Context, req peer.TransferRequest, send func(peer.Object, uint64) error) (err error) {
	defer func() { l.transferred <- err }()
	l.mu.Lock()
	l.transfers = append(l.transfers, req)
	lo, hi := keys.PartitionRange(req.Partition)
	if req.Namespace != "" {
		lo, hi = keys.NamespaceRange(req.Partition, req.Namespace)
	}
	var ks []string
	var remaining uint64
	for _, k := range slices.Sorted(maps.Keys(l.objs)) {
		if k >= string(lo) && k < string(hi) && k > string(req.Cursor) {
			ks = append(ks, k)
			remaining += uint64(len(k))
		}
	}
	objs, hold := maps.Clone(l.objs), l.holdAfterFirst
	l.mu.Unlock()
	for i, k := range ks {
		remaining -= uint64(len(k))
		if err := send(objs[k], remaining); err != nil {
			return err
		}
		if hold && i == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLocal) Purge(_ context.Context, objs []peer.Object) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, o := range l.objs {
		for _, p := range objs {
			if o.Namespace == p.Namespace && bytes.Equal(o.Key, p.Key) && o.Object.Equal(p.Object) {
				delete(l.objs, k)
				n++
			}
		}
	}
	return n, nil
}

func (l *memLocal) FetchModule(_ context.Context, hash string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.modules[hash], nil
}

func (l *memLocal) NamespaceStats(_ context.Context, ns string) (nsstats.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.stats[ns]
	if !ok {
		return nsstats.Stats{}, errs.ErrNamespaceNotFound
	}
	return st, nil
}

func value(actor, v string) dvv.Object {
	var o dvv.Object
	return o.Update(actor, dvv.Clock{}, dvv.Sibling{Value: []byte(v), Timestamp: 1})
}

func tombstone(actor string) dvv.Object {
	var o dvv.Object
	return o.Update(actor, dvv.Clock{}, dvv.Sibling{Tombstone: true, Timestamp: 1})
}

func sameObjects(t *testing.T, got, want []peer.Object) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d objects, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Namespace != w.Namespace || !bytes.Equal(g.Key, w.Key) || !g.Object.Equal(w.Object) {
			t.Errorf("object %d: got %s/%q %v, want %s/%q %v", i, g.Namespace, g.Key, g.Object.Siblings(), w.Namespace, w.Key, w.Object.Siblings())
		}
	}
}

// fill puts n objects into partition p, spread over two namespaces, and
// returns them in storage-key order.
func fill(l *memLocal, p uint16, n int) []peer.Object {
	var out []peer.Object
	for i := range n {
		ns := []string{"carts", "users#00000000000000a1"}[i%2]
		o := peer.Object{Namespace: ns, Key: fmt.Appendf(nil, "key-%03d", i), Object: value("node-a", fmt.Sprint(i))}
		l.put(p, o)
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b peer.Object) int {
		return bytes.Compare(keys.Data(p, a.Namespace, a.Key), keys.Data(p, b.Namespace, b.Key))
	})
	return out
}

// TestTransferResumesAfterTheCursor reads part of a transfer, stops, and
// resumes from the cursor of the last object read: every object arrives
// once, in storage-key order, whatever the batch size.
func TestTransferResumesAfterTheCursor(t *testing.T) {
	t.Parallel()
	const p = 7
	for _, tt := range []struct {
		name      string
		batch     int
		stopAfter int
	}{
		{"stop inside a batch", 4, 6},
		{"stop at a batch's end", 4, 8},
		{"default batch", 0, 11},
		{"stop before the first object", 3, 0},
		{"read to the end first", 5, 25},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newMemLocal()
			want := fill(l, p, 25)
			fill(l, p+1, 3) // another partition: never sent
			c := servePeer(t, l)

			var got []peer.Object
			var cursor []byte
			first := c.Transfer(t.Context(), "other", peer.TransferRequest{Partition: p, BatchSize: tt.batch})
			for len(got) < tt.stopAfter && first.Next() {
				got = append(got, first.Object())
				cursor = first.Cursor()
				if want := keys.Data(p, first.Object().Namespace, first.Object().Key); !bytes.Equal(cursor, want) {
					t.Fatalf("cursor %q, want the object's storage key %q", cursor, want)
				}
				if first.Size() < len(first.Object().Key) {
					t.Errorf("size %d is less than the key", first.Size())
				}
			}
			first.Close()
			if err := first.Err(); err != nil {
				t.Fatalf("first transfer: %v", err)
			}

			second := c.Transfer(t.Context(), "other", peer.TransferRequest{Partition: p, Cursor: cursor, BatchSize: tt.batch})
			defer second.Close()
			last := ^uint64(0)
			for second.Next() {
				got = append(got, second.Object())
				if second.Remaining() > last {
					t.Errorf("remaining bytes grew from %d to %d", last, second.Remaining())
				}
				last = second.Remaining()
			}
			if err := second.Err(); err != nil {
				t.Fatalf("resumed transfer: %v", err)
			}
			sameObjects(t, got, want)
			if len(got) > tt.stopAfter && last != 0 {
				t.Errorf("remaining bytes at the end: %d, want 0", last)
			}
		})
	}
}

// TestTransferOfOneNamespace: a transfer with a namespace sends that
// namespace's objects only, and resumes inside it.
func TestTransferOfOneNamespace(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	var want []peer.Object
	for _, o := range fill(l, 3, 12) {
		if o.Namespace == "carts" {
			want = append(want, o)
		}
	}
	c := servePeer(t, l)
	tr := c.Transfer(t.Context(), "other", peer.TransferRequest{Partition: 3, Namespace: "carts", Cursor: keys.Data(3, "carts", want[1].Key)})
	defer tr.Close()
	var got []peer.Object
	for tr.Next() {
		got = append(got, tr.Object())
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	sameObjects(t, got, want[2:])
	if _, _, _, reqs := l.calls(); len(reqs) != 1 {
		t.Errorf("the node got %d transfers", len(reqs))
	} else if req := reqs[0]; req.Partition != 3 || req.Namespace != "carts" || req.BatchSize != peer.DefaultTransferBatch {
		t.Errorf("the node got %+v", req)
	}
}

// TestTransferCloseStopsTheSender: closing a transfer early ends the
// context of the sending node's Transfer; it does not stream the rest of
// the partition into the void.
func TestTransferCloseStopsTheSender(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	l.holdAfterFirst = true
	fill(l, 0, 50)
	c := servePeer(t, l)
	tr := c.Transfer(t.Context(), "other", peer.TransferRequest{Partition: 0, BatchSize: 1})
	if !tr.Next() {
		t.Fatalf("no first object: %v", tr.Err())
	}
	tr.Close()
	if tr.Next() {
		t.Error("Next after Close moved on")
	}
	if err := <-l.transferred; !errors.Is(err, context.Canceled) {
		t.Errorf("the sender's Transfer ended with %v, want context.Canceled", err)
	}
}

// TestTransferErrors: a transfer the node refuses, or one to a node that
// does not answer, ends with that error and no objects.
func TestTransferErrors(t *testing.T) {
	t.Parallel()
	sent := errs.Invalid("partition", "partition 9 is out of range")
	refusing := servePeer(t, failingLocal{err: sent})
	nobody := clientTo(t, "127.0.0.1:1", nil)
	for _, tt := range []struct {
		name  string
		tr    *peer.Transfer
		check func(t *testing.T, got error)
	}{
		{"refused", refusing.Transfer(t.Context(), "other", peer.TransferRequest{Partition: 9}), func(t *testing.T, got error) {
			t.Helper()
			answered(t, got)
			sameFields[errs.InvalidError](t, sent, got)
		}},
		{"no answer", nobody.Transfer(t.Context(), "unknown", peer.TransferRequest{}), func(t *testing.T, got error) {
			t.Helper()
			if !errors.Is(got, peer.ErrNoAnswer) {
				t.Errorf("got %v, want peer.ErrNoAnswer", got)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.tr.Close()
			if tt.tr.Next() {
				t.Errorf("an object arrived: %v", tt.tr.Object())
			}
			tt.check(t, tt.tr.Err())
		})
	}
}

// TestReadReturnsTheReplica: Read answers the node's object, and the zero
// object for a key it does not hold.
func TestReadReturnsTheReplica(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	held := peer.Object{Namespace: "carts", Key: []byte("alice"), Object: object(t)}
	l.put(1, held)
	c := servePeer(t, l)

	got, err := c.Read(t.Context(), "other", "carts", []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(held.Object) {
		t.Errorf("got %v, want %v", got.Siblings(), held.Object.Siblings())
	}
	got, err = c.Read(t.Context(), "other", "carts", []byte("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsZero() {
		t.Errorf("a missing key read as %v, want the zero object", got.Siblings())
	}
}

// TestCoordinateCarriesEveryField: a forwarded write reaches the
// coordinator field for field, and its answer comes back.
func TestCoordinateCarriesEveryField(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	c := servePeer(t, l)
	for _, req := range []peer.CoordinateRequest{
		{
			Namespace: "carts", Key: []byte("alice"), Value: []byte("v1"), Context: []byte{1, 2, 3},
			W: 2, DW: 1, IfAbsent: true, IfContextCurrent: true, Hops: 1,
		},
		{Namespace: "carts", Key: []byte("bob"), Tombstone: true, Force: true, W: 3},
	} {
		obj, acks, err := c.Coordinate(t.Context(), "other", req)
		if err != nil {
			t.Fatal(err)
		}
		_, reqs, _, _ := l.calls()
		if got := reqs[len(reqs)-1]; !reflect.DeepEqual(got, req) {
			t.Errorf("the coordinator got\n%#v\nwant\n%#v", got, req)
		}
		wantObj, wantAcks := coordinated(req)
		if !obj.Equal(wantObj) || acks != wantAcks {
			t.Errorf("answer: %v with %d acks, want %v with %d", obj.Siblings(), acks, wantObj.Siblings(), wantAcks)
		}
	}
}

// TestCallsCarryDomainTypes: the other calls reach the node with what the
// caller passed, and bring its answer back.
func TestCallsCarryDomainTypes(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	objs := []peer.Object{
		{Namespace: "carts", Key: []byte("a"), Object: value("node-a", "1")},
		{Namespace: "carts#00000000000000b2", Key: []byte("bcd"), Object: object(t)},
	}
	for _, o := range objs {
		l.put(5, o)
	}
	l.tree[5] = []uint64{0, 42, 7}
	const modHash, missingHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	l.modules[modHash] = []byte("\x00asm")
	c := servePeer(t, l)
	ctx := t.Context()

	t.Run("Replicate", func(t *testing.T) {
		for _, tt := range []struct {
			sync  bool
			owner string
		}{{true, ""}, {false, "node-c"}} {
			durable, err := c.Replicate(ctx, "other", objs, tt.sync, tt.owner)
			if err != nil {
				t.Fatal(err)
			}
			applied, _, _, _ := l.calls()
			call := applied[len(applied)-1]
			sameObjects(t, call.objs, objs)
			if call.sync != tt.sync || call.intendedOwner != tt.owner || durable != tt.sync {
				t.Errorf("sync %v owner %q durable %v, want %v %q %v", call.sync, call.intendedOwner, durable, tt.sync, tt.owner, tt.sync)
			}
		}
	})
	t.Run("Tree", func(t *testing.T) {
		segs, err := c.Tree(ctx, "other", 5)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(segs, l.tree[5]) {
			t.Errorf("got %v, want %v", segs, l.tree[5])
		}
	})
	t.Run("Segment", func(t *testing.T) {
		got, err := c.Segment(ctx, "other", 5, []uint32{3, 9})
		if err != nil {
			t.Fatal(err)
		}
		sameObjects(t, got, objs[1:])
		if _, _, segs, _ := l.calls(); !slices.Equal(segs[len(segs)-1], []uint32{3, 9}) {
			t.Errorf("the node got segments %v", segs)
		}
	})
	t.Run("FetchModule", func(t *testing.T) {
		for hash, want := range map[string][]byte{modHash: l.modules[modHash], missingHash: nil} {
			got, err := c.FetchModule(ctx, "other", hash)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: got %q, %v; want %q", hash, got, err, want)
			}
		}
	})
	t.Run("NamespaceStats", func(t *testing.T) {
		want := nsstats.Stats{Namespace: "carts", Node: "other", Operations: []nsstats.Operation{
			{Name: "get", Requests: 7, Errors: map[string]uint64{"unavailable": 2, "deadline_exceeded": 1}, P50: time.Millisecond, P99: 9 * time.Millisecond, P999: 20 * time.Millisecond},
			{Name: "put", Requests: 3},
		}}
		want.ReadsByVersions = [nsstats.Versions]uint64{4, 1, 0, 1}
		want.Resolver = nsstats.Resolver{Calls: 5, Failures: map[string]uint64{"trap": 1}, CPU: 3 * time.Millisecond, P99: 2 * time.Millisecond, Breaker: nsstats.BreakerHalfOpen}
		want.Rejections = map[string]uint64{"reads_per_second": 4}
		want.Hints, want.KeysRepaired, want.StoredKeys, want.StoredBytes = 1, 2, 3, 4
		sent := want
		sent.Operations = slices.Clone(want.Operations)
		sent.Operations[0].Latency = nsstats.Buckets{Counts: []uint64{7}} // stays home
		l.mu.Lock()
		l.stats = map[string]nsstats.Stats{"carts": sent}
		l.mu.Unlock()
		got, err := c.NamespaceStats(ctx, "other", "carts")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		if _, err := c.NamespaceStats(ctx, "other", "nope"); !errors.Is(err, errs.ErrNamespaceNotFound) {
			t.Errorf("an unknown namespace: %v, want ErrNamespaceNotFound", err)
		}
		var inv *errs.InvalidError
		if _, err := c.NamespaceStats(ctx, "other", "Not a name"); !errors.As(err, &inv) {
			t.Errorf("an invalid name: %v, want an InvalidError", err)
		}
	})
	t.Run("Purge", func(t *testing.T) {
		gone := peer.Object{Namespace: "carts", Key: []byte("t1"), Object: tombstone("node-a")}
		kept := peer.Object{Namespace: "carts", Key: []byte("t2"), Object: tombstone("node-a")}
		l.put(6, gone)
		l.put(6, kept)
		stale := peer.Object{Namespace: kept.Namespace, Key: kept.Key, Object: tombstone("node-b")}
		n, err := c.Purge(ctx, "other", []peer.Object{stale, gone})
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("purged %d, want 1 (only the equal copy)", n)
		}
	})
}

// TestHandlerRefusesOutOfRangePartitions: a partition number that does not
// fit the engine's is refused as invalid, never wrapped round to another
// partition.
func TestHandlerRefusesOutOfRangePartitions(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	fill(l, 0, 3)
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(t, mux)
	hc := peer.NewPlaintextClient(nil)
	t.Cleanup(hc.CloseIdleConnections)
	raw := peerv1connect.NewPeerServiceClient(hc, "http://"+addr)
	const wrapsToZero = 1 << 16
	_, err := raw.Tree(t.Context(), &peerv1.TreeRequest{Partition: wrapsToZero})
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("Tree: got %v, want invalid_argument", err)
	}
	stream, err := raw.Transfer(t.Context(), &peerv1.TransferRequest{Partition: wrapsToZero})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for stream.Receive() {
		t.Errorf("Transfer sent objects of another partition: %v", stream.Msg().GetObjects())
	}
	if connect.CodeOf(stream.Err()) != connect.CodeInvalidArgument {
		t.Errorf("Transfer: got %v, want invalid_argument", stream.Err())
	}
	if _, _, _, reqs := l.calls(); len(reqs) != 0 {
		t.Errorf("the node was asked for %+v", reqs)
	}
}
