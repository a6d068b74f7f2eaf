package front_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/node/seals"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func TestNodeShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate    uint32
		members int
		want    uint32
	}{
		{0, 3, 0},
		{1, 5, 1},    // rounded up: never below one request per second
		{100, 3, 34}, // rounded up: the cluster may take slightly more, never less
		{90, 3, 30},
		{10, 0, 10}, // no ring yet: this node is the cluster
		{meta.CeilingRate, 1, meta.CeilingRate},
	} {
		if got := front.NodeShare(tc.rate, tc.members); got != tc.want {
			t.Errorf("NodeShare(%d, %d) = %d, want %d", tc.rate, tc.members, got, tc.want)
		}
	}
}

// wantRateLimited checks err is the rate limit's LimitError with a retry
// delay of want.
func wantRateLimited(t *testing.T, err error, limit string, max uint64, want time.Duration) {
	t.Helper()
	var lim *errs.LimitError
	if !errors.As(err, &lim) {
		t.Fatalf("err = %v, want a LimitError of %s", err, limit)
	}
	if lim.Limit != limit || lim.Max != max || !lim.Exhausted || lim.RetryAfter != want {
		t.Errorf("LimitError = %+v, want limit %s, max %d, exhausted, retry after %v", lim, limit, max, want)
	}
}

// TestRateLimiterBucket: a node allows its share of the rate, a burst of
// one second's share at once, then one request per 1/share seconds; a
// refused request says when to retry, and uses no token.
func TestRateLimiterBucket(t *testing.T) {
	t.Parallel()
	l := front.NewRateLimiter()
	ns := meta.Namespace{Name: "a", Incarnation: 1}
	t0 := time.Unix(100, 0)
	for i := range 10 { // 30/s over 3 members: 10/s here, burst 10
		if err := l.Take(ns, front.LimitWritesPerSecond, 30, 3, t0); err != nil {
			t.Fatalf("request %d of the burst: %v", i, err)
		}
	}
	for range 3 {
		wantRateLimited(t, l.Take(ns, front.LimitWritesPerSecond, 30, 3, t0), front.LimitWritesPerSecond, 30, 100*time.Millisecond)
	}
	wantRateLimited(t, l.Take(ns, front.LimitWritesPerSecond, 30, 3, t0.Add(40*time.Millisecond)), front.LimitWritesPerSecond, 30, 60*time.Millisecond)
	if err := l.Take(ns, front.LimitWritesPerSecond, 30, 3, t0.Add(100*time.Millisecond)); err != nil {
		t.Errorf("after the retry delay: %v", err)
	}
	// Reads have a bucket of their own.
	if err := l.Take(ns, front.LimitReadsPerSecond, 30, 3, t0.Add(100*time.Millisecond)); err != nil {
		t.Errorf("a read while writes are exhausted: %v", err)
	}
	// So does another namespace.
	if err := l.Take(meta.Namespace{Name: "b"}, front.LimitWritesPerSecond, 30, 3, t0.Add(100*time.Millisecond)); err != nil {
		t.Errorf("another namespace's write: %v", err)
	}
}

// TestRateLimiterFollowsSettings: a changed rate or ring size applies at
// the next request, a new incarnation starts afresh, and a lifted limit or
// a deleted namespace leaves no bucket.
func TestRateLimiterFollowsSettings(t *testing.T) {
	t.Parallel()
	const w = front.LimitWritesPerSecond
	t0 := time.Unix(100, 0)
	drain := func(l front.RateLimiter, ns meta.Namespace, rate uint32, members int) int {
		n := 0
		for l.Take(ns, w, rate, members, t0) == nil {
			n++
		}
		return n
	}
	ns := meta.Namespace{Name: "a", Incarnation: 1, Limits: meta.Limits{WritesPerSecond: 4, ReadsPerSecond: 4}}

	l := front.NewRateLimiter()
	if got := drain(l, ns, 4, 1); got != 4 {
		t.Fatalf("burst of 4/s = %d", got)
	}
	// Raised: the bucket refills at the new rate, but holds no tokens yet.
	wantRateLimited(t, l.Take(ns, w, 1000, 1, t0), w, 1000, time.Millisecond)
	if err := l.Take(ns, w, 1000, 1, t0.Add(time.Millisecond)); err != nil {
		t.Errorf("1 ms after raising to 1000/s: %v", err)
	}
	// The ring grew: this node's share shrinks.
	wantRateLimited(t, l.Take(ns, w, 1000, 4, t0.Add(time.Millisecond)), w, 1000, 4*time.Millisecond)

	// A new incarnation (the namespace deleted and created again) starts
	// with a full bucket.
	if got := drain(l, meta.Namespace{Name: "a", Incarnation: 2}, 4, 1); got != 4 {
		t.Errorf("burst of a new incarnation = %d, want 4", got)
	}

	if err := l.Take(ns, front.LimitReadsPerSecond, 4, 1, t0); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 2 {
		t.Fatalf("buckets = %d, want 2", l.Size())
	}
	lifted := ns
	lifted.Limits.WritesPerSecond = 0
	l.Changed(lifted)
	if l.Size() != 1 {
		t.Errorf("buckets after lifting writes_per_second = %d, want 1 (reads)", l.Size())
	}
	for i := range 1000 {
		if err := l.Take(ns, w, 0, 1, t0); err != nil {
			t.Fatalf("unlimited: request %d refused: %v", i, err)
		}
	}
	if l.Size() != 1 {
		t.Errorf("an unlimited namespace got a bucket: %d buckets", l.Size())
	}
	deleted := ns
	deleted.Deleted = true
	l.Changed(deleted)
	if l.Size() != 0 {
		t.Errorf("buckets after the delete = %d, want 0", l.Size())
	}
}

// limitedFront is a front whose namespace "sync" allows 2 reads and 3
// writes per second (a node without a ring: the whole rate is its own),
// and whose clock stands still, so spent tokens never come back (unless
// an option changes the config).
func limitedFront(t *testing.T, c *coordinator, p *peers, opts ...func(*front.Config)) *front.Front {
	t.Helper()
	keys, err := seals.Open(memory.New(), discard())
	if err != nil {
		t.Fatal(err)
	}
	nss := testNamespaces()
	ns := nss["sync"]
	ns.Limits.ReadsPerSecond, ns.Limits.WritesPerSecond = 2, 3
	nss["sync"] = ns
	cfg := front.Config{
		Namespaces: nss, Coordinator: c, Topology: topology{}, Actors: actors{},
		Seals: keys, Store: store{}, Now: func() time.Time { return time.Unix(1, 0) }, Logger: discard(),
	}
	if p != nil {
		cfg.Peers = p
	}
	for _, o := range opts {
		o(&cfg)
	}
	return front.New(cfg)
}

// TestFrontRateLimits: client Gets and Puts are counted against their
// namespace's limits apart; other namespaces are not limited; a write
// another node forwarded is not counted again; a refused write never
// reaches the coordinator.
func TestFrontRateLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := &coordinator{local: true}
	f := limitedFront(t, c, nil)
	put := front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v")}
	refused := 0
	for range 9 {
		if _, err := f.Put(ctx, put); err != nil {
			wantRateLimited(t, err, front.LimitWritesPerSecond, 3, 334*time.Millisecond)
			refused++
		}
	}
	if refused != 6 || c.written() != 3 {
		t.Errorf("9 writes at 3/s: %d refused, %d written; want 6 and 3", refused, c.written())
	}
	for i := range 2 {
		if _, err := f.Get(ctx, front.GetRequest{Namespace: "sync", Key: []byte("k")}); err != nil {
			t.Errorf("read %d while writes are exhausted: %v", i, err)
		}
	}
	_, err := f.Get(ctx, front.GetRequest{Namespace: "sync", Key: []byte("k")})
	wantRateLimited(t, err, front.LimitReadsPerSecond, 2, 500*time.Millisecond)
	for i := range 9 {
		if _, err := f.Put(ctx, front.PutRequest{Namespace: "buf", Key: []byte("k"), Value: []byte("v")}); err != nil {
			t.Fatalf("write %d of an unlimited namespace: %v", i, err)
		}
	}
	for i := range 9 {
		if _, _, err := f.Coordinate(ctx, peer.CoordinateRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v"), Hops: 0}); err != nil {
			t.Fatalf("forwarded write %d: %v", i, err)
		}
	}
}

// TestFrontRateLimitForwarded: the node the client called counts a write
// it forwards, once.
func TestFrontRateLimitForwarded(t *testing.T) {
	t.Parallel()
	p := &peers{}
	f := limitedFront(t, &coordinator{others: []string{"b"}}, p)
	refused := 0
	for range 5 {
		if _, err := f.Put(t.Context(), front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v")}); err != nil {
			wantRateLimited(t, err, front.LimitWritesPerSecond, 3, 334*time.Millisecond)
			refused++
		}
	}
	if refused != 2 || len(p.asked) != 3 {
		t.Errorf("5 writes at 3/s: %d refused, %d forwarded; want 2 and 3", refused, len(p.asked))
	}
}

// TestWriteBytesBucket: write_bytes_per_second counts bytes: a node allows
// its share of them per second (a burst of one second's share), a write
// that does not fit is refused with the wait until it would, and one larger
// than the whole share passes once the bucket is full (and empties it).
func TestWriteBytesBucket(t *testing.T) {
	t.Parallel()
	l := front.NewRateLimiter()
	ns := meta.Namespace{Name: "a", Incarnation: 1}
	t0 := time.Unix(100, 0)
	const limit = front.LimitWriteBytesPerSecond
	// 3000 B/s over 3 members: 1000 B/s here.
	if err := l.TakeN(ns, limit, 3000, 600, 3, t0); err != nil {
		t.Fatalf("600 B of a full bucket of 1000: %v", err)
	}
	wantRateLimited(t, l.TakeN(ns, limit, 3000, 600, 3, t0), limit, 3000, 200*time.Millisecond)
	if err := l.TakeN(ns, limit, 3000, 600, 3, t0.Add(200*time.Millisecond)); err != nil {
		t.Fatalf("600 B once 200 ms refilled the bucket to 600: %v", err)
	}
	if err := l.TakeN(ns, limit, 3000, 5000, 3, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("a 5000 B write with the bucket full: %v", err)
	}
	wantRateLimited(t, l.TakeN(ns, limit, 3000, 1, 3, t0.Add(2*time.Second)), limit, 3000, time.Millisecond)
}

// TestRefusingDecidesAsTake: over a random run of requests, Refusing
// answers only requests that take would refuse, with take's error, and
// counts nothing: a limiter asked first decides every request as one that
// never was.
func TestRefusingDecidesAsTake(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ns := meta.Namespace{Name: "a", Incarnation: 1}
	for _, lim := range []struct {
		name      string
		perSecond uint64
		size      func() int
	}{
		{front.LimitWritesPerSecond, 30, func() int { return 1 }},
		{front.LimitWriteBytesPerSecond, 3000, func() int { return 1 + rng.IntN(1500) }},
	} {
		asked, plain := front.NewRateLimiter(), front.NewRateLimiter()
		now := time.Unix(100, 0)
		decided := 0
		for i := range 2000 {
			now = now.Add(time.Duration(rng.IntN(40)) * time.Millisecond)
			members := 3
			if i > 1500 {
				members = 2 // a ring change: the share grows, the bucket follows at the next take
			}
			n := lim.size()
			early := asked.Refusing(ns, lim.name, lim.perSecond, members, now)
			got := asked.TakeN(ns, lim.name, lim.perSecond, n, members, now)
			want := plain.TakeN(ns, lim.name, lim.perSecond, n, members, now)
			if (got == nil) != (want == nil) {
				t.Fatalf("%s, request %d: take after Refusing = %v, without = %v", lim.name, i, got, want)
			}
			if early == nil {
				continue
			}
			decided++
			var e, g *errs.LimitError
			if !errors.As(early, &e) || !errors.As(got, &g) {
				t.Fatalf("%s, request %d: Refusing = %v but take = %v", lim.name, i, early, got)
			}
			if n == 1 && *e != *g {
				t.Errorf("%s, request %d: Refusing = %+v, take = %+v", lim.name, i, *e, *g)
			}
		}
		if decided == 0 {
			t.Errorf("%s: Refusing decided no request of the run", lim.name)
		}
	}
}

// TestFrontRefusing: Refusing answers the refusal a request of that kind
// would get once its bucket is empty, and nothing before; it counts
// nothing. RefusedRecently tells whether a refusal happened in the last
// second.
func TestFrontRefusing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Unix(100, 0)
	f := limitedFront(t, &coordinator{local: true}, nil, func(cfg *front.Config) { cfg.Now = func() time.Time { return now } })
	put := front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("v")}
	for i := range 3 { // writes_per_second 3 on one node: a burst of 3
		if err := f.Refusing("sync", front.Write); err != nil || f.RefusedRecently() {
			t.Fatalf("before write %d: Refusing = %v, RefusedRecently = %v; want nil, false", i, err, f.RefusedRecently())
		}
		if _, err := f.Put(ctx, put); err != nil {
			t.Fatalf("write %d of the burst: %v", i, err)
		}
	}
	if f.RefusedRecently() {
		t.Fatal("RefusedRecently = true before any refusal")
	}
	_, err := f.Put(ctx, put)
	wantRateLimited(t, err, front.LimitWritesPerSecond, 3, 334*time.Millisecond)
	if !f.RefusedRecently() {
		t.Fatal("RefusedRecently = false after a refusal")
	}
	wantRateLimited(t, f.Refusing("sync", front.Write), front.LimitWritesPerSecond, 3, 334*time.Millisecond)
	for _, name := range []string{"buf", "missing", ""} {
		if err := f.Refusing(name, front.Write); err != nil {
			t.Errorf("Refusing(%q) = %v, want nil", name, err)
		}
	}
	if err := f.Refusing("sync", front.Read); err != nil {
		t.Errorf("a read while writes are refused: Refusing = %v, want nil", err)
	}
	now = now.Add(334 * time.Millisecond)
	if err := f.Refusing("sync", front.Write); err != nil {
		t.Errorf("once a token refilled: Refusing = %v, want nil", err)
	}
	if _, err := f.Put(ctx, put); err != nil {
		t.Errorf("the write Refusing let through: %v", err)
	}
	now = now.Add(1100 * time.Millisecond)
	if f.RefusedRecently() {
		t.Error("RefusedRecently = true over a second after the last refusal")
	}
}

// TestDeleteNotLimitedByWriteBytes: a delete stores no value, so
// write_bytes_per_second never refuses it, even with the bucket empty
// (writes_per_second still counts it); Refusing answers the same.
func TestDeleteNotLimitedByWriteBytes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := limitedFront(t, &coordinator{local: true}, nil, func(cfg *front.Config) {
		nss := cfg.Namespaces.(namespaces)
		ns := nss["sync"]
		ns.Limits.WritesPerSecond, ns.Limits.WriteBytesPerSecond = 100, 6 // the key and value of one write
		nss["sync"] = ns
	})
	if _, err := f.Put(ctx, front.PutRequest{Namespace: "sync", Key: []byte("k"), Value: []byte("vvvvv")}); err != nil {
		t.Fatalf("a write of 6 bytes into a full bucket of 6: %v", err)
	}
	_, err := f.Put(ctx, front.PutRequest{Namespace: "sync", Key: []byte("k2"), Value: []byte("v")})
	wantRateLimited(t, err, front.LimitWriteBytesPerSecond, 6, 500*time.Millisecond)
	wantRateLimited(t, f.Refusing("sync", front.Write), front.LimitWriteBytesPerSecond, 6, 167*time.Millisecond)
	if err := f.Refusing("sync", front.Delete); err != nil {
		t.Errorf("Refusing a delete with the bytes bucket empty = %v, want nil", err)
	}
	if _, err := f.Put(ctx, front.PutRequest{Namespace: "sync", Key: []byte("k"), Tombstone: true, Force: true}); err != nil {
		t.Errorf("a delete with the bytes bucket empty: %v", err)
	}
}
