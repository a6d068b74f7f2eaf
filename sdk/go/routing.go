package concord

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// Routing defaults (see WithRouting).
const (
	// DefaultTopologyMaxAge is how old a cached topology may grow before a
	// call asks for it again (the Dynamo paper's clients polled every 10 s).
	DefaultTopologyMaxAge = 10 * time.Second
	// readYourWritesFor is how long after a write a read of the key goes
	// first to the node that coordinated it, when that is not the node the
	// key's reads go to anyway.
	readYourWritesFor = 5 * time.Second
	// recentWritesMax bounds the writes remembered for that.
	recentWritesMax = 16 << 10
	// downFor is how long a node that failed a call goes to the end of
	// every plan.
	downFor = 5 * time.Second
	// fetchRetryAfter is how long after a failed GetTopology calls go on
	// without asking again.
	fetchRetryAfter = time.Second
	// fetchTimeout bounds a topology fetch, whatever the deadline of the
	// call that makes it.
	fetchTimeout = 5 * time.Second
)

// target is a node a call can go to.
type target struct {
	id  string // node ID; "" for a configured endpoint not (yet) matched to one
	url string
	kv  kvv1connect.KVServiceClient
}

// router sends each key's requests to the head of its preference list
// (client-driven coordination). It caches one topology per namespace and
// refreshes it in the call that finds it stale: older than maxAge, or
// marked stale by a failed node or a forwarded write. It is safe for
// concurrent use.
type router struct {
	maxAge  time.Duration
	now     func() time.Time
	scheme  string                                       // of the first configured endpoint
	connect func(url string) kvv1connect.KVServiceClient // a client of one node

	namespaces sync.Map // namespace -> *cachedTopology
	clients    sync.Map // url -> kvv1connect.KVServiceClient
	down       sync.Map // url -> time.Time until which the node goes last
	recent     recentWrites
}

// cachedTopology is one namespace's topology.
type cachedTopology struct {
	refresh sync.Mutex // held by the call that fetches it
	cur     atomic.Pointer[topology]
	stale   atomic.Bool
	retryAt atomic.Int64 // unix nanoseconds: no fetch before, after a failed one
	// first is closed when the first fetch ends, whether it got a
	// topology or not.
	first     chan struct{}
	firstDone sync.Once
}

func (r *router) entry(ns string) *cachedTopology {
	if e, ok := r.namespaces.Load(ns); ok {
		return e.(*cachedTopology)
	}
	e, _ := r.namespaces.LoadOrStore(ns, &cachedTopology{first: make(chan struct{})})
	return e.(*cachedTopology)
}

// topology returns ns's topology, fetching it first when there is none and
// refreshing it when stale. Only one call fetches at a time, for at most
// fetchTimeout: the others use the topology they have. Before the first
// there is none, and they wait for the first fetch (or for ctx) rather
// than go to the configured endpoints: a node the endpoints pick may be
// another replica than the first of the key's list, and two nodes that
// coordinate conditional writes of one key at once can both apply them.
// If the first fetch fails, calls go to the endpoints, as they do
// whenever no topology can be had.
func (r *router) topology(ctx context.Context, ns string, endpoints []target) *topology {
	e := r.entry(ns)
	t := e.cur.Load()
	now := r.now()
	if t != nil && !e.stale.Load() && now.Sub(t.fetched) < r.maxAge {
		return t
	}
	if now.UnixNano() < e.retryAt.Load() {
		return t
	}
	if !e.refresh.TryLock() {
		if t != nil {
			return t
		}
		select {
		case <-e.first:
			return e.cur.Load()
		case <-ctx.Done():
			return nil
		}
	}
	defer e.refresh.Unlock()
	defer e.firstDone.Do(func() { close(e.first) })
	if cur := e.cur.Load(); cur != t { // another call fetched it meanwhile
		return cur
	}
	e.stale.Store(false)
	fetchCtx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	fresh, err := r.fetch(fetchCtx, ns, t, endpoints)
	if err != nil {
		e.stale.Store(true)
		e.retryAt.Store(r.now().Add(fetchRetryAfter).UnixNano())
		return t
	}
	if t != nil && fresh.epoch < t.epoch {
		// A node behind the ring answered: keep the newer placement, as
		// fresh as the fetch.
		kept := *t
		kept.fetched = fresh.fetched
		fresh = &kept
	}
	e.cur.Store(fresh)
	return fresh
}

// fetch asks the configured endpoints, then the nodes of the old topology,
// for ns's topology, those that failed a call a moment ago last; the first
// answer wins.
func (r *router) fetch(ctx context.Context, ns string, old *topology, endpoints []target) (*topology, error) {
	var up, down []string
	seen := map[string]bool{"": true}
	add := func(url string) {
		switch {
		case seen[url]:
		case r.isDown(url, r.now()):
			down = append(down, url)
		default:
			up = append(up, url)
		}
		seen[url] = true
	}
	for _, ep := range endpoints {
		add(ep.url)
	}
	if old != nil {
		for _, n := range old.nodes {
			add(n.url)
		}
	}
	var errs []error
	for _, url := range append(up, down...) {
		res, err := r.client(url).GetTopology(ctx, &kvv1.GetTopologyRequest{Namespace: ns})
		if err == nil {
			var t *topology
			if t, err = newTopology(res, r.scheme, r.now()); err == nil {
				return t, nil
			}
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// client returns the KV client of the node at url.
func (r *router) client(url string) kvv1connect.KVServiceClient {
	if kv, ok := r.clients.Load(url); ok {
		return kv.(kvv1connect.KVServiceClient)
	}
	kv, _ := r.clients.LoadOrStore(url, r.connect(url))
	return kv.(kvv1connect.KVServiceClient)
}

// route appends to plan the nodes a call for key goes to, in order: for a
// read, the coordinator of this client's recent write of the key; then the
// key's preference list.
func (r *router) route(t *topology, ns string, key []byte, o op, plan []target) []target {
	add := func(i int) {
		n := t.nodes[i]
		if n.url == "" {
			return
		}
		for _, p := range plan {
			if p.url == n.url {
				return
			}
		}
		plan = append(plan, target{id: n.id, url: n.url, kv: r.client(n.url)})
	}
	if o == opRead {
		if id, ok := r.recent.coordinator(ns, key, r.now()); ok {
			if i, ok := t.byID[id]; ok {
				add(i)
			}
		}
	}
	for _, i := range t.replicas(key) {
		add(i)
	}
	return plan
}

// isDown reports whether the node at url failed a call a moment ago.
func (r *router) isDown(url string, now time.Time) bool {
	until, ok := r.down.Load(url)
	if !ok {
		return false
	}
	if now.Before(until.(time.Time)) {
		return true
	}
	r.down.CompareAndDelete(url, until)
	return false
}

// failed records that the node to failed a call of namespace ns: it goes
// last for a while, and the next call refreshes ns's topology.
func (r *router) failed(ns string, to target) {
	r.down.Store(to.url, r.now().Add(downFor))
	r.entry(ns).stale.Store(true)
}

// wrote records the coordinator of a write of key that went to node to.
// A node that did not coordinate the write itself forwarded it: it is not
// in the key's preference list, so the topology is stale. A coordinator
// other than the head of the list (a fallback's) is remembered for a while,
// for the key's next reads.
func (r *router) wrote(t *topology, ns string, key []byte, to target, coordinator string) {
	if coordinator == "" {
		return
	}
	if to.id != "" && coordinator != to.id {
		r.entry(ns).stale.Store(true)
	}
	if t == nil {
		return
	}
	if t.first(key).id == coordinator {
		r.recent.forget(ns, key)
		return
	}
	r.recent.remember(ns, key, coordinator, r.now())
}

// recentWrites remembers, for a few seconds, the coordinators of this
// client's writes that another node than the head of the key's preference
// list coordinated. It holds at most recentWritesMax of them.
type recentWrites struct {
	n     atomic.Int64 // len(byKey), read without the lock
	mu    sync.Mutex
	byKey map[string]recentWrite
	order []recentKey // oldest first
}

type recentWrite struct {
	coordinator string
	at          time.Time
}

type recentKey struct {
	key string
	at  time.Time
}

func recentKeyOf(ns string, key []byte) string { return ns + "\x00" + string(key) }

func (w *recentWrites) remember(ns string, key []byte, coordinator string, now time.Time) {
	k := recentKeyOf(ns, key)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byKey == nil {
		w.byKey = map[string]recentWrite{}
	}
	for len(w.order) > 0 && (len(w.order) >= recentWritesMax || now.Sub(w.order[0].at) >= readYourWritesFor) {
		old := w.order[0]
		w.order = w.order[1:]
		if cur, ok := w.byKey[old.key]; ok && cur.at.Equal(old.at) {
			delete(w.byKey, old.key)
		}
	}
	w.byKey[k] = recentWrite{coordinator: coordinator, at: now}
	w.order = append(w.order, recentKey{key: k, at: now})
	w.n.Store(int64(len(w.byKey)))
}

func (w *recentWrites) forget(ns string, key []byte) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byKey, recentKeyOf(ns, key))
	w.n.Store(int64(len(w.byKey)))
}

func (w *recentWrites) coordinator(ns string, key []byte, now time.Time) (string, bool) {
	if w.n.Load() == 0 {
		return "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	rw, ok := w.byKey[recentKeyOf(ns, key)]
	if !ok || now.Sub(rw.at) >= readYourWritesFor {
		return "", false
	}
	return rw.coordinator, true
}

// ringEpochHeader is the header of every KV answer that names the
// answering node's ring epoch (internal/server.RingEpochHeader).
const ringEpochHeader = "Concord-Ring-Epoch"

// epochWatch marks a namespace's topology stale as soon as an answer comes
// from a node whose ring is newer than the topology: the next call fetches
// it again instead of waiting for maxAge.
type epochWatch struct{ r *router }

func (w epochWatch) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil || req.Spec().Procedure == kvv1connect.KVServiceGetTopologyProcedure {
			return res, err // a topology's own answer is not news about it
		}
		epoch, perr := strconv.ParseUint(res.Header().Get(ringEpochHeader), 10, 64)
		named, ok := req.Any().(interface{ GetNamespace() string })
		if perr != nil || !ok {
			return res, err
		}
		e := w.r.entry(named.GetNamespace())
		if t := e.cur.Load(); t != nil && epoch > t.epoch {
			e.stale.Store(true)
		}
		return res, err
	}
}

func (epochWatch) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (epochWatch) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
