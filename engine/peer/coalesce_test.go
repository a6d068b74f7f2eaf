package peer_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/wait"
)

// gatedLocal holds every Apply until release is closed, and fails a
// request that carries the key bad.
type gatedLocal struct {
	*memLocal
	entered chan struct{}
	release chan struct{}
	bad     string
}

func (g *gatedLocal) Apply(ctx context.Context, objs []peer.Object, sync bool, owner string) (bool, error) {
	g.entered <- struct{}{}
	<-g.release
	for _, o := range objs {
		if string(o.Key) == g.bad {
			return false, fmt.Errorf("%w: refusing %s", errs.ErrNamespaceNotFound, o.Key)
		}
	}
	return g.memLocal.Apply(ctx, objs, sync, owner)
}

// TestReplicateCoalescesConcurrentCalls: while a request to a peer is in
// flight, nine more calls wait and then share one request; the peer
// merges them in one Apply and every caller gets its answer. A call whose
// object the peer refuses fails alone: the shared request is sent again
// call by call.
func TestReplicateCoalescesConcurrentCalls(t *testing.T) {
	t.Parallel()
	for _, tc := range overTransports([]string{"", "k5"}) {
		bad := tc.v
		t.Run(tc.transport+"/bad="+bad, func(t *testing.T) {
			t.Parallel()
			l := &gatedLocal{memLocal: newMemLocal(), entered: make(chan struct{}, 64), release: make(chan struct{}), bad: bad}
			c := servePeerOver(t, l, tc.transport)
			ctx := t.Context()
			results := make([]error, 10)
			durable := make([]bool, 10)
			var wg sync.WaitGroup
			call := func(i int) {
				wg.Go(func() {
					obj := []peer.Object{{Namespace: "ns", Key: fmt.Appendf(nil, "k%d", i), Object: value("node-a", "v")}}
					durable[i], results[i] = c.Replicate(ctx, "other", obj, true, "")
				})
			}
			call(0)
			<-l.entered
			for i := 1; i < 10; i++ {
				call(i)
			}
			if err := wait.Until(ctx, func() bool { return c.Waiting() == 9 }); err != nil {
				t.Fatalf("calls waiting: %d, want 9", c.Waiting())
			}
			close(l.release)
			wg.Wait()
			for i, err := range results {
				wantErr := fmt.Sprintf("k%d", i) == bad
				if (err != nil) != wantErr || (err == nil && !durable[i]) {
					t.Errorf("call %d: durable %v, err %v; want an error: %v", i, durable[i], err, wantErr)
				}
			}
			applied, _, _, _ := l.calls()
			sizes := []int{}
			for _, a := range applied {
				sizes = append(sizes, len(a.objs))
			}
			// Call 0 and the shared request are released at once, so they
			// reach memLocal in either order: compare the sizes sorted.
			slices.Sort(sizes)
			want := "[1 9]"
			if bad != "" {
				want = "[1 1 1 1 1 1 1 1 1]" // the shared request failed; each call was sent alone, k5's refused
			}
			if got := fmt.Sprint(sizes); got != want {
				t.Errorf("objects per Apply %s, want %s", got, want)
			}
		})
	}
}

// heldBatches holds every Apply of several objects until release is
// closed.
type heldBatches struct {
	*memLocal
	entered chan struct{}
	release chan struct{}
}

func (h *heldBatches) Apply(ctx context.Context, objs []peer.Object, sync bool, owner string) (bool, error) {
	if len(objs) > 1 {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.memLocal.Apply(ctx, objs, sync, owner)
}

// TestReplicateBatchesQueueApartFromSingleWrites: a queue keeps one
// request in flight, so a batch (anti-entropy's repairs, slow to merge)
// queues apart: while the peer holds one, a single write is answered.
func TestReplicateBatchesQueueApartFromSingleWrites(t *testing.T) {
	t.Parallel()
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			l := &heldBatches{memLocal: newMemLocal(), entered: make(chan struct{}, 1), release: make(chan struct{})}
			c := servePeerOver(t, l, transport)
			ctx := t.Context()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer close(l.release)
			wg.Go(func() {
				batch := []peer.Object{{Namespace: "ns", Key: []byte("b1"), Object: value("node-a", "v")}, {Namespace: "ns", Key: []byte("b2"), Object: value("node-a", "v")}}
				if _, err := c.Replicate(ctx, "other", batch, false, ""); err != nil {
					t.Errorf("held batch: %v", err)
				}
			})
			<-l.entered
			if _, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "ns", Key: []byte("k"), Object: value("node-a", "v")}}, false, ""); err != nil {
				t.Fatalf("a single write while a batch is held: %v", err)
			}
		})
	}
}

// gatedReads holds every ReadLocal until release is closed.
type gatedReads struct {
	*memLocal
	entered chan struct{}
	release chan struct{}
}

func (g *gatedReads) ReadLocal(ctx context.Context, ns string, key []byte) (dvv.Object, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.memLocal.ReadLocal(ctx, ns, key)
}

// TestReadsCoalesce: while a read of a peer is in flight, nine more wait
// and then share one ReadMany; each caller gets its own key's object. A
// read the peer refuses (a key over the limit) fails alone.
func TestReadsCoalesce(t *testing.T) {
	t.Parallel()
	for _, tc := range overTransports([]bool{false, true}) {
		bad := tc.v
		t.Run(fmt.Sprint(tc.transport, "/bad=", bad), func(t *testing.T) {
			t.Parallel()
			l := &gatedReads{memLocal: newMemLocal(), entered: make(chan struct{}, 64), release: make(chan struct{})}
			for i := range 10 {
				l.put(0, peer.Object{Namespace: "ns", Key: fmt.Appendf(nil, "k%d", i), Object: value("node-a", fmt.Sprint(i))})
			}
			var mu sync.Mutex
			paths := map[string]int{}
			mux := http.NewServeMux()
			mux.Handle(peer.NewHandler(l, nil))
			addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths[path.Base(r.URL.Path)]++
				mu.Unlock()
				mux.ServeHTTP(w, r)
			}))
			c := clientOver(t, addr, tc.transport)
			ctx := t.Context()
			type answer struct {
				obj dvv.Object
				err error
			}
			answers := make([]answer, 10)
			var wg sync.WaitGroup
			read := func(i int) {
				key := fmt.Appendf(nil, "k%d", i)
				if bad && i == 5 {
					key = bytes.Repeat([]byte("x"), 1<<20) // over any key limit
				}
				wg.Go(func() {
					obj, err := c.Read(ctx, "other", "ns", key)
					answers[i] = answer{obj, err}
				})
			}
			read(0)
			<-l.entered
			for i := 1; i < 10; i++ {
				read(i)
			}
			if err := wait.Until(ctx, func() bool { return c.Waiting() == 9 }); err != nil {
				t.Fatalf("calls waiting: %d, want 9", c.Waiting())
			}
			close(l.release)
			wg.Wait()
			for i, a := range answers {
				if bad && i == 5 {
					if a.err == nil {
						t.Errorf("read %d of an oversized key: no error", i)
					}
					continue
				}
				if a.err != nil || !a.obj.Equal(value("node-a", fmt.Sprint(i))) {
					t.Errorf("read %d: %v %v, want its own object", i, a.obj.Siblings(), a.err)
				}
			}
			want := map[string]int{"Read": 1, "ReadMany": 1}
			if bad {
				want = map[string]int{"Read": 10, "ReadMany": 1} // the shared request failed; each read went alone
			}
			if tc.transport == "stream" {
				want = map[string]int{"Stream": 1} // every read, single or shared, went in its frames
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(paths) != fmt.Sprint(want) {
				t.Errorf("requests %v, want %v", paths, want)
			}
		})
	}
}

// TestReplicateAsyncReturnsAtOnceAndAnswersOnce: ReplicateAsync returns
// while the peer holds the request, and each call's done runs exactly
// once with the answer: the peer's, or the refusal of a bad object, or,
// for a node the client does not know, an error.
func TestReplicateAsyncReturnsAtOnceAndAnswersOnce(t *testing.T) {
	t.Parallel()
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			l := &gatedLocal{memLocal: newMemLocal(), entered: make(chan struct{}, 64), release: make(chan struct{}), bad: "k3"}
			c := servePeerOver(t, l, transport)
			type answer struct {
				i       int
				durable bool
				err     error
			}
			answers := make(chan answer, 16)
			start := func(i int, to string) {
				obj := []peer.Object{{Namespace: "ns", Key: fmt.Appendf(nil, "k%d", i), Object: value("node-a", "v")}}
				c.ReplicateAsync(t.Context(), to, obj, true, "", func(durable bool, err error) { answers <- answer{i, durable, err} })
			}
			start(0, "other")
			<-l.entered // the peer holds call 0: ReplicateAsync returned without its answer
			for i := 1; i < 5; i++ {
				start(i, "other")
			}
			start(5, "nobody")
			if a := <-answers; a.i != 5 || a.err == nil {
				t.Fatalf("first answer %+v: want call 5's error (an unknown node) while the peer holds the rest", a)
			}
			close(l.release)
			got := map[int]answer{}
			for range 5 {
				a := <-answers
				if _, twice := got[a.i]; twice {
					t.Fatalf("call %d answered twice", a.i)
				}
				got[a.i] = a
			}
			for i := range 5 {
				a := got[i]
				if wantErr := i == 3; (a.err != nil) != wantErr || (a.err == nil && !a.durable) {
					t.Errorf("call %d: durable %v, err %v; want an error: %v", i, a.durable, a.err, wantErr)
				}
			}
			select {
			case a := <-answers:
				t.Fatalf("an answer too many: %+v", a)
			default:
			}
		})
	}
}
