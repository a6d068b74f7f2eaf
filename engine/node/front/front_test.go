package front_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/coord"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/node/seals"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// namespaces is a fake: a sync namespace "sync" (n=3) and a buffered
// namespace "buf" (n=3).
type namespaces map[string]meta.Namespace

func (n namespaces) Get(name string) (meta.Namespace, error) {
	ns, ok := n[name]
	if !ok {
		return meta.Namespace{}, errs.ErrNamespaceNotFound
	}
	return ns, nil
}

func testNamespaces() namespaces {
	ns := func(name string, d meta.Durability) meta.Namespace {
		return meta.Namespace{Name: name, N: 3, R: 2, W: 2, Durability: d, Limits: meta.Limits{MaxValueBytes: 8, MaxKeyBytes: 4, MaxSiblings: 10}}
	}
	return namespaces{"sync": ns("sync", meta.DurabilitySync), "buf": ns("buf", meta.DurabilityBuffered)}
}

// coordinator is a fake: it coordinates when local is set, and applies a
// write to an empty key, keeping what it wrote.
type coordinator struct {
	local  bool
	others []string

	mu     sync.Mutex
	writes []coord.WriteRequest
	reads  int
}

func (c *coordinator) Read(context.Context, string, []byte, int, int) (dvv.Object, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return dvv.Object{}, 2, nil
}

func (c *coordinator) Write(_ context.Context, req coord.WriteRequest) (dvv.Object, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, req)
	obj, err := req.Apply(dvv.Object{})
	return obj, req.W, err
}

func (c *coordinator) IsCoordinator(string, []byte, int) (bool, []string) { return c.local, c.others }

func (c *coordinator) written() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

// topology is a fake without a ring (a joining node): quorums are not
// judged against it.
type topology struct{}

func (topology) Self() string                              { return "a" }
func (topology) Ring() (ring.Ring, bool)                   { return ring.Ring{}, false }
func (topology) Replicas(uint16, int) ([]string, []string) { return []string{"a", "b", "c"}, nil }
func (topology) Alive(string) bool                         { return true }
func (topology) Receiving(uint16) bool                     { return false }

// peers is a fake: each node answers a forwarded write with its error, or
// with success; the nodes asked are kept in order.
type peers struct {
	errs map[string]error

	mu    sync.Mutex
	asked []string
}

func (p *peers) Coordinate(_ context.Context, to string, req peer.CoordinateRequest) (dvv.Object, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, to)
	if req.Hops != 1 {
		return dvv.Object{}, 0, errors.New("a forwarded write carries one hop")
	}
	if err := p.errs[to]; err != nil {
		return dvv.Object{}, 0, err
	}
	return dvv.Object{}.Update(to+".1", dvv.Clock{}, dvv.Sibling{Value: req.Value}), 2, nil
}

func (p *peers) Transfer(context.Context, string, peer.TransferRequest) *peer.Transfer {
	panic("not listed in these tests")
}

type actors struct{}

func (actors) Pick(uint16, dvv.Object, dvv.Clock, bool) (string, error) { return "a.1", nil }

type store struct{}

func (store) Partition(string, []byte) uint16 { return 0 }
func (store) Partitions() int                 { return 1 }
func (store) Scan(uint16, string, []byte, func(replica.Entry) (bool, error)) error {
	return nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newFront(t *testing.T, c *coordinator, p *peers) (*front.Front, *seals.Keys) {
	t.Helper()
	keys, err := seals.Open(memory.New(), discard())
	if err != nil {
		t.Fatal(err)
	}
	cfg := front.Config{
		Namespaces: testNamespaces(), Coordinator: c, Topology: topology{}, Actors: actors{},
		Seals: keys, Store: store{}, Now: func() time.Time { return time.Unix(1, 0) }, Logger: discard(),
	}
	if p != nil {
		cfg.Peers = p
	}
	return front.New(cfg), keys
}

// wantErr checks err against the engine error a client must get: an
// InvalidError of a field, a LimitError of a limit, or a sentinel.
type wantErr struct {
	field    string // *errs.InvalidError
	limit    string // *errs.LimitError
	sentinel error
}

func (w wantErr) check(t *testing.T, err error) {
	t.Helper()
	var inv *errs.InvalidError
	var lim *errs.LimitError
	switch {
	case w.field != "":
		if !errors.As(err, &inv) || inv.Field != w.field {
			t.Errorf("err = %v, want an InvalidError of field %q", err, w.field)
		}
	case w.limit != "":
		if !errors.As(err, &lim) || lim.Limit != w.limit {
			t.Errorf("err = %v, want a LimitError of %q", err, w.limit)
		}
	case !errors.Is(err, w.sentinel):
		t.Errorf("err = %v, want %v", err, w.sentinel)
	}
}

// TestPutValidation: a write the request itself makes impossible is
// refused with the engine error that names what to change, before the
// coordinator sees it.
func TestPutValidation(t *testing.T) {
	t.Parallel()
	otherKeys, err := seals.Open(memory.New(), discard())
	if err != nil {
		t.Fatal(err)
	}
	foreign := otherKeys.Seal("sync", []byte("k"), dvv.Object{}) // sealed by a node this one never heard of
	for _, tc := range []struct {
		name string
		req  front.PutRequest
		want wantErr
	}{
		{"no namespace", front.PutRequest{Key: []byte("k")}, wantErr{field: "namespace"}},
		{"unknown namespace", front.PutRequest{Namespace: "nope", Key: []byte("k")}, wantErr{sentinel: errs.ErrNamespaceNotFound}},
		{"empty key", front.PutRequest{Namespace: "sync"}, wantErr{field: "key"}},
		{"oversize key", front.PutRequest{Namespace: "sync", Key: []byte("kkkkk")}, wantErr{limit: "max_key_bytes"}},
		{"oversize value", front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("123456789")}, wantErr{limit: "max_value_bytes"}},
		{"w above n", front.PutRequest{Namespace: "sync", Key: []byte("k"), W: 4}, wantErr{field: "w"}},
		{"dw above w", front.PutRequest{Namespace: "sync", Key: []byte("k"), W: 1, DW: 2}, wantErr{field: "dw"}},
		{"dw on buffered", front.PutRequest{Namespace: "buf", Key: []byte("k"), DW: 1}, wantErr{field: "dw"}},
		{"garbage context", front.PutRequest{Namespace: "sync", Key: []byte("k"), Context: []byte("garbage")}, wantErr{field: "context"}},
		{"oversize context", front.PutRequest{Namespace: "sync", Key: []byte("k"), Context: make([]byte, 16<<10+1)}, wantErr{field: "context"}},
		{"context of an unknown node", front.PutRequest{Namespace: "sync", Key: []byte("k"), Context: foreign}, wantErr{sentinel: errs.ErrUnavailable}},
		{"delete with a value", front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v"), Tombstone: true}, wantErr{field: "value"}},
		{"blind delete", front.PutRequest{Namespace: "sync", Key: []byte("k"), Tombstone: true}, wantErr{field: "context"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &coordinator{local: true}
			f, _ := newFront(t, c, nil)
			_, err := f.Put(t.Context(), tc.req)
			tc.want.check(t, err)
			if c.written() != 0 {
				t.Errorf("the coordinator wrote %d times, want none", c.written())
			}
		})
	}
}

// TestPutContextOfAnotherKey: a context sealed for one key does not open
// for another (nor for another storage namespace), and one for the key
// does.
func TestPutContextOfAnotherKey(t *testing.T) {
	t.Parallel()
	c := &coordinator{local: true}
	f, keys := newFront(t, c, nil)
	obj := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	for _, tc := range []struct {
		name string
		tok  []byte
		want wantErr
	}{
		{"other key", keys.Seal("sync", []byte("x"), obj), wantErr{field: "context"}},
		{"other namespace", keys.Seal("buf", []byte("k"), obj), wantErr{field: "context"}},
	} {
		_, err := f.Put(t.Context(), front.PutRequest{Namespace: "sync", Key: []byte("k"), Context: tc.tok})
		tc.want.check(t, err)
	}
	res, err := f.Put(t.Context(), front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("w"), Context: keys.Seal("sync", []byte("k"), obj)})
	if err != nil {
		t.Fatalf("Put with the key's own context: %v", err)
	}
	if got := res.Object.Siblings(); len(got) != 1 || string(got[0].Value) != "w" {
		t.Errorf("written %v, want the one value w", got)
	}
	if _, err := keys.Open("sync", []byte("k"), res.Context); err != nil {
		t.Errorf("the context a Put returns does not open: %v", err)
	}
}

// TestGetValidation: a read with an r above n or an empty key is refused
// before the coordinator reads.
func TestGetValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  front.GetRequest
		want wantErr
	}{
		{"empty key", front.GetRequest{Namespace: "sync"}, wantErr{field: "key"}},
		{"r above n", front.GetRequest{Namespace: "sync", Key: []byte("k"), R: 4}, wantErr{field: "r"}},
		{"unknown namespace", front.GetRequest{Namespace: "nope", Key: []byte("k")}, wantErr{sentinel: errs.ErrNamespaceNotFound}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &coordinator{local: true}
			f, _ := newFront(t, c, nil)
			_, err := f.Get(t.Context(), tc.req)
			tc.want.check(t, err)
			if c.reads != 0 {
				t.Errorf("the coordinator read %d times, want none", c.reads)
			}
		})
	}
}

// TestPutCoordinatesLocally: a replica coordinates a valid write itself
// with the namespace's quorums, and dw only for a sync namespace.
func TestPutCoordinatesLocally(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ns           string
		w, dw        uint32
		wantW, wantD int
	}{
		{"sync", 0, 0, 2, 0},
		{"sync", 3, 2, 3, 2},
		{"buf", 1, 0, 1, 0},
	} {
		c := &coordinator{local: true}
		p := &peers{}
		f, _ := newFront(t, c, p)
		if _, err := f.Put(t.Context(), front.PutRequest{Namespace: tc.ns, Key: []byte("k"), Value: []byte("v"), W: tc.w, DW: tc.dw}); err != nil {
			t.Fatalf("%s w=%d dw=%d: %v", tc.ns, tc.w, tc.dw, err)
		}
		if len(c.writes) != 1 || len(p.asked) != 0 {
			t.Fatalf("%s: %d local writes, forwarded to %v; want one local write", tc.ns, len(c.writes), p.asked)
		}
		if w := c.writes[0]; w.W != tc.wantW || w.DW != tc.wantD || w.N != 3 || w.Sync != (tc.ns == "sync") {
			t.Errorf("%s: write N=%d W=%d DW=%d Sync=%v, want 3, %d, %d, %v", tc.ns, w.N, w.W, w.DW, w.Sync, tc.wantW, tc.wantD, tc.ns == "sync")
		}
	}
}

// TestPutForwards: a node that is not a replica of the key forwards the
// write to the preference list in order. A node that did not answer
// (ErrNoAnswer) or does not coordinate the key is skipped; an error a node
// answered is final, since asking another coordinator would apply the
// write twice, and an answer that could not be read is a quorum error (the
// write may have landed); and with no node left the write fails its
// quorum.
func TestPutForwards(t *testing.T) {
	t.Parallel()
	answered := &errs.QuorumError{Op: "write", Need: 2, Got: 1}
	for _, tc := range []struct {
		name      string
		errs      map[string]error
		wantAsked []string
		wantErr   error // nil: success from the last node asked
	}{
		{"first answers", nil, []string{"b"}, nil},
		{"first does not answer", map[string]error{"b": peer.ErrNoAnswer}, []string{"b", "c"}, nil},
		{"first wraps no answer", map[string]error{"b": errors.Join(errors.New("dial"), peer.ErrNoAnswer)}, []string{"b", "c"}, nil},
		{"first answers unreadably", map[string]error{"b": errs.ErrUnavailable}, []string{"b"}, &errs.QuorumError{}},
		{"first does not coordinate", map[string]error{"b": peer.ErrNotCoordinator}, []string{"b", "c"}, nil},
		{"first answers a quorum error", map[string]error{"b": answered}, []string{"b"}, answered},
		{"first answers already exists", map[string]error{"b": errs.ErrAlreadyExists}, []string{"b"}, errs.ErrAlreadyExists},
		{"none answers", map[string]error{"b": peer.ErrNoAnswer, "c": peer.ErrNoAnswer}, []string{"b", "c"}, &errs.QuorumError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &coordinator{local: false, others: []string{"b", "c"}}
			p := &peers{errs: tc.errs}
			f, _ := newFront(t, c, p)
			res, err := f.Put(t.Context(), front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v")})
			if !slices.Equal(p.asked, tc.wantAsked) {
				t.Errorf("asked %v, want %v", p.asked, tc.wantAsked)
			}
			if c.written() != 0 {
				t.Errorf("a non-replica wrote locally")
			}
			var q *errs.QuorumError
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if sibs := res.Object.Siblings(); len(sibs) != 1 || string(sibs[0].Value) != "v" || res.Replies != 2 || len(res.Context) == 0 {
					t.Errorf("result %+v, want the forwarded write's, with a context", res)
				}
			case errors.As(tc.wantErr, &q) && q.Need == 0:
				if !errors.As(err, &q) || q.Need != 2 || q.Got != 0 {
					t.Errorf("err = %v, want a write QuorumError need 2 got 0", err)
				}
			case !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v as the other node answered it", err, tc.wantErr)
			}
		})
	}
}

// TestForwardedWriteIsNotForwardedAgain: a write another node forwarded
// to one that does not coordinate the key is answered ErrNotCoordinator,
// so the forwarding node asks the next replica; and without peers (a
// single node) a write this node does not coordinate fails its quorum.
func TestForwardedWriteIsNotForwardedAgain(t *testing.T) {
	t.Parallel()
	c := &coordinator{local: false, others: []string{"b"}}
	p := &peers{}
	f, _ := newFront(t, c, p)
	if _, _, err := f.Coordinate(t.Context(), peer.CoordinateRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v"), Hops: 1}); !errors.Is(err, peer.ErrNotCoordinator) {
		t.Errorf("forwarded write: err = %v, want ErrNotCoordinator", err)
	}
	if len(p.asked) != 0 {
		t.Errorf("forwarded again to %v", p.asked)
	}

	alone, _ := newFront(t, &coordinator{local: false, others: []string{"b"}}, nil)
	var q *errs.QuorumError
	if _, err := alone.Put(t.Context(), front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v")}); !errors.As(err, &q) {
		t.Errorf("without peers: err = %v, want a QuorumError", err)
	}
}
