package faultlab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	concord "github.com/concord-kv/concord/sdk/go"
)

// Operation kinds.
const (
	opSetAdd = "set-add" // read-merge-write: add one element to a shared set
	opBlind  = "blind"   // a Put without context of a unique value
)

// op is one client operation and its outcome.
type op struct {
	Kind   string    `json:"kind"`
	Client int       `json:"client"`
	Node   string    `json:"node"`  // the node the client called
	Key    string    `json:"key"`   // the key
	Value  string    `json:"value"` // the element added, or the value written
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Acked  bool      `json:"acked"`            // the write was acknowledged
	Cut    bool      `json:"cut,omitempty"`    // cut short by the end of the run: it may have landed
	Failed string    `json:"failed,omitempty"` // "read" or "write": where it failed
	Code   string    `json:"code,omitempty"`   // the error's Connect code
	Err    string    `json:"err,omitempty"`
}

// history is every operation the clients ran. It is safe for concurrent
// use.
type history struct {
	mu  sync.Mutex
	ops []op
}

func (h *history) add(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func (h *history) all() []op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops)
}

// save writes the history as JSON lines.
func (h *history) save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, o := range h.all() {
		if err := enc.Encode(o); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	return f.Close()
}

// workload is the clients: set-adders that read, merge the siblings, add
// an element and write back with the read's context, and blind writers
// that put unique values without context to keys nobody merges, so every
// acknowledged blind value must stay a sibling.
type workload struct {
	setWriters   int
	setKeys      int           // shared set keys per generation
	generation   time.Duration // set keys are replaced by new ones this often, which bounds their values
	blindWriters int
	blindKeys    int           // blind keys in use at a time
	blindPerKey  int           // blind values per key from the blind writers (well under max_siblings, with the bursts)
	pace         time.Duration // one operation per client per pace, at most
	opTimeout    time.Duration
	maxOps       int // per client: a bound on top of the run's context

	hist     history
	blindSeq atomic.Int64
	start    time.Time
	focus    atomic.Pointer[labNode] // while set, half the operations go to this node
	bursts   atomic.Int64
}

func defaultWorkload() *workload {
	return &workload{
		setWriters: 4, setKeys: 4, generation: 30 * time.Second,
		blindWriters: 3, blindKeys: 64, blindPerKey: 20,
		pace: 50 * time.Millisecond, opTimeout: 3 * time.Second, maxOps: 200_000,
	}
}

// run starts the clients against nodes; they stop when the returned stop
// is called (which waits for them) or ctx ends.
func (w *workload) run(ctx context.Context, nodes []*labNode) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	w.start = time.Now()
	var wg sync.WaitGroup
	for c := range w.setWriters {
		wg.Go(func() { w.client(ctx, c, nodes, w.setAdd) })
	}
	for c := range w.blindWriters {
		wg.Go(func() { w.client(ctx, w.setWriters+c, nodes, w.blind) })
	}
	return func() { cancel(); wg.Wait() }
}

// client runs one operation per pace on a random node until ctx ends.
// An operation cut short by the end of the run is recorded as cut: it
// promises nothing and says nothing about availability, but may have
// landed.
func (w *workload) client(ctx context.Context, id int, nodes []*labNode, do func(context.Context, *op, *concord.Client)) {
	tick := time.NewTicker(w.pace)
	defer tick.Stop()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for i := 0; i < w.maxOps; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n := nodes[rng.IntN(len(nodes))]
		if f := w.focus.Load(); f != nil && rng.IntN(2) == 0 {
			n = f
		}
		w.execute(ctx, op{Client: id, Node: n.name}, func(octx context.Context, o *op) { do(octx, o, n.kv) })
	}
}

// execute runs one operation within the operation timeout and records it.
func (w *workload) execute(ctx context.Context, o op, do func(context.Context, *op)) {
	o.Start = time.Now()
	octx, cancel := context.WithTimeout(ctx, w.opTimeout)
	do(octx, &o)
	cancel()
	o.End = time.Now()
	o.Cut = ctx.Err() != nil
	w.hist.add(o)
}

// setAdd adds the element "s<client>.<start in ns>" to a set key.
func (w *workload) setAdd(ctx context.Context, o *op, kv *concord.Client) {
	gen := int(time.Since(w.start) / w.generation)
	o.Kind = opSetAdd
	o.Key = fmt.Sprintf("set-%03d-%d", gen, rand.IntN(w.setKeys))
	o.Value = fmt.Sprintf("s%d.%d", o.Client, o.Start.UnixNano())
	obj, err := kv.Get(ctx, []byte(o.Key))
	if err != nil {
		o.fail("read", err)
		return
	}
	set := elements(obj.Values())
	set[o.Value] = true
	if _, err := kv.Put(ctx, []byte(o.Key), encodeSet(set), concord.After(obj.Context)); err != nil {
		o.fail("write", err)
		return
	}
	o.Acked = true
}

// blind writes the unique value "b<client>.<seq>" without context. The
// keys are used in pools of blindKeys keys written round robin, each key
// blindPerKey times (well under max_siblings), so a key is written again
// and again over a pool's lifetime — across the faults that happen
// meanwhile — by every blind writer through every node.
func (w *workload) blind(ctx context.Context, o *op, kv *concord.Client) {
	seq := w.blindSeq.Add(1) - 1
	pool := seq / int64(w.blindKeys*w.blindPerKey)
	o.Key = fmt.Sprintf("blind-%03d-%02d", pool, seq%int64(w.blindKeys))
	o.Value = fmt.Sprintf("b%d.%d", o.Client, seq)
	putBlind(ctx, o, kv)
}

// putBlind puts o's value to o's key without a context.
func putBlind(ctx context.Context, o *op, kv *concord.Client) {
	o.Kind = opBlind
	if _, err := kv.Put(ctx, []byte(o.Key), []byte(o.Value)); err != nil {
		o.fail("write", err)
		return
	}
	o.Acked = true
}

// burst writes a unique blind value to each of blindKeys keys named
// prefix-NN through n at once, as the fault schedule's own client, and
// returns when all are done. Two bursts with one prefix around a fault are
// issue 8's reproduction: a node that coordinated writes of some keys
// coordinates them again right after it rejoined (or restarted).
func (w *workload) burst(ctx context.Context, n *labNode, prefix string) {
	id := w.setWriters + w.blindWriters + int(w.bursts.Add(1)) - 1
	var wg sync.WaitGroup
	for k := range w.blindKeys {
		o := op{Client: id, Node: n.name, Key: fmt.Sprintf("%s-%02d", prefix, k), Value: fmt.Sprintf("n%d.%d", id, k)}
		wg.Go(func() { w.execute(ctx, o, func(octx context.Context, o *op) { putBlind(octx, o, n.kv) }) })
	}
	wg.Wait()
}

// fail records where the operation failed and why. A node that cannot be
// reached at all (killed, or refusing connections) is told apart from one
// that answered with an error.
func (o *op) fail(where string, err error) {
	o.Failed, o.Code, o.Err = where, connect.CodeOf(err).String(), err.Error()
	if _, ok := errors.AsType[*net.OpError](err); ok {
		o.Code = "unreachable"
	}
}

// elements is the union of the sets the siblings hold.
func elements(siblings [][]byte) map[string]bool {
	set := map[string]bool{}
	for _, s := range siblings {
		for _, e := range strings.Fields(string(s)) {
			set[e] = true
		}
	}
	return set
}

func encodeSet(set map[string]bool) []byte {
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	slices.Sort(out)
	return []byte(strings.Join(out, " "))
}
