package resolvers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// values makes an input of live siblings.
func values(vs ...string) abi.Input {
	in := abi.Input{Key: []byte("k")}
	for i, v := range vs {
		in.Siblings = append(in.Siblings, abi.Sibling{Value: []byte(v), Timestamp: int64(i)})
	}
	return in
}

func u32(b []byte) uint32 {
	if len(b) != 4 {
		return ^uint32(0)
	}
	return binary.LittleEndian.Uint32(b)
}

func mustResolve(t testing.TB, p *resolvers.Pool, in abi.Input) resolvers.Result {
	t.Helper()
	res, err := p.Resolve(context.Background(), in)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", in, err)
	}
	return res
}

func callKind(err error) resolvers.ErrorKind {
	var ce *resolvers.CallError
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return 0
}

func TestResolveLongest(t *testing.T) {
	t.Parallel()
	p := newPool(t, "longest", "cart", nil, resolvers.Limits{})
	tomb := abi.Sibling{Tombstone: true}
	tests := []struct {
		name   string
		in     abi.Input
		status abi.Status
		value  string
	}{
		{"three siblings", values("apple", "banana", "fig"), abi.StatusOK, "banana"},
		{"tie broken by bytes", values("abc", "abd", "abb"), abi.StatusOK, "abd"},
		{"one sibling", values("x"), abi.StatusOK, "x"},
		{"empty value", values(""), abi.StatusOK, ""},
		{"tombstones ignored", abi.Input{Siblings: []abi.Sibling{tomb, {Value: []byte("v")}, tomb}}, abi.StatusOK, "v"},
		{"only tombstones", abi.Input{Siblings: []abi.Sibling{tomb, tomb}}, abi.StatusDelete, ""},
		{"no siblings", abi.Input{}, abi.StatusDefer, ""},
		{"large frame grows memory", values(strings.Repeat("a", 200_000), "b"), abi.StatusOK, strings.Repeat("a", 200_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := mustResolve(t, p, tt.in)
			if res.Status != tt.status || string(res.Value) != tt.value {
				t.Fatalf("Resolve = %s %.20q, want %s %.20q", res.Status, res.Value, tt.status, tt.value)
			}
		})
	}
}

// TestResolveOrderInsensitive checks a law the upload check will enforce,
// on the WAT resolver: any permutation of the siblings merges the same.
func TestResolveOrderInsensitive(t *testing.T) {
	t.Parallel()
	p := newPool(t, "longest", "cart", nil, resolvers.Limits{})
	rapid.Check(t, func(t *rapid.T) {
		vs := rapid.SliceOfN(rapid.StringMatching(`[a-c]{0,4}`), 1, 6).Draw(t, "values")
		perm := rapid.Permutation(vs).Draw(t, "permutation")
		a, errA := p.Resolve(context.Background(), values(vs...))
		b, errB := p.Resolve(context.Background(), values(perm...))
		if errA != nil || errB != nil {
			t.Fatalf("Resolve: %v, %v", errA, errB)
		}
		if a.Status != b.Status || !bytes.Equal(a.Value, b.Value) {
			t.Fatalf("order changed the merge: %q -> %q, %q -> %q", vs, a.Value, perm, b.Value)
		}
	})
}

// hostileLimits are tight limits for the hostile module.
var hostileLimits = resolvers.Limits{
	Deadline:       20 * time.Millisecond,
	InitDeadline:   time.Second,
	MemoryPages:    16, // 1 MiB: growing memory is slow under -race (shadow memory)
	MaxOutputBytes: 1024,
	MaxInstances:   2,
}

// TestHostileCalls drives one pool per case through a failing call, then
// checks the failure's kind, that the broken instance was discarded and
// that the pool still serves a good call. (How late past its deadline a
// call is stopped is measured by BenchmarkRunaway, not asserted.)
func TestHostileCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cmd    string
		kind   resolvers.ErrorKind
		detail string // in Error() or Stderr
	}{
		{"infinite loop", "L", resolvers.KindTimeout, "deadline"},
		{"memory growth bomb", "G", resolvers.KindTrap, "unreachable"},
		{"unreachable", "T", resolvers.KindTrap, "unreachable"},
		{"giant output", "O", resolvers.KindBadOutput, "output exceeds 1024 bytes"},
		{"guest error", "E", resolvers.KindGuestError, "status ERROR"},
		{"bad status", "B", resolvers.KindBadStatus, "status Status(42)"},
		{"proc_exit", "X", resolvers.KindExit, "exit_code(7)"},
		{"AssemblyScript abort", "A", resolvers.KindTrap, "abort"},
		{"panic on stderr", "P", resolvers.KindTrap, "panic: guest is sad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, "hostile", "ns", nil, hostileLimits, resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
			mustResolve(t, p, values("warm")) // the failing call uses a pooled instance

			start := time.Now()
			_, err := p.Resolve(t.Context(), values(tt.cmd))
			t.Logf("%s: stopped after %v (deadline %v): %v", tt.name, time.Since(start), hostileLimits.Deadline, err)
			var ce *resolvers.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind {
				t.Fatalf("Resolve error = %v, want a CallError of kind %s", err, tt.kind)
			}
			if ce.Namespace != "ns" || ce.Module != p.Module().Hash() {
				t.Errorf("CallError names %q/%s, want ns/%s", ce.Namespace, ce.Module.Short(), p.Module().Hash().Short())
			}
			if !strings.Contains(ce.Error()+ce.Stderr, tt.detail) {
				t.Errorf("error %q (stderr %q) does not mention %q", ce.Error(), ce.Stderr, tt.detail)
			}

			if res := mustResolve(t, p, values("good")); string(res.Value) != "good" {
				t.Fatalf("good call after failure = %q", res.Value)
			}
			s := p.Stats()
			if s.Calls != 3 || s.Failures[tt.kind] != 1 || s.OK != 2 {
				t.Errorf("stats: calls %d, %s failures %d, ok %d; want 3, 1, 2", s.Calls, tt.kind, s.Failures[tt.kind], s.OK)
			}
			// warm call: cold start 1; the failed instance was discarded, so
			// the good call started cold again.
			if s.ColdStarts != 2 {
				t.Errorf("cold starts = %d, want 2 (failed instance discarded)", s.ColdStarts)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, pages := range []uint32{2, 32, 48} {
		p := newPool(t, "hostile", "ns", nil, resolvers.Limits{MemoryPages: pages, Deadline: 10 * time.Second})
		if got := u32(mustResolve(t, p, values("M")).Value); got != pages {
			t.Errorf("memory grew to %d pages, limit %d", got, pages)
		}
	}
	p := newPool(t, "big_memory", "ns", nil, resolvers.Limits{MemoryPages: 16})
	_, err := p.Resolve(t.Context(), values("x"))
	if callKind(err) != resolvers.KindInstantiate || !strings.Contains(err.Error(), "memory limit 16 pages") {
		t.Fatalf("module needing 64 pages under a 16-page limit: %v, want KindInstantiate", err)
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{})
	for cmd, want := range map[string]abi.Status{"D": abi.StatusDelete, "F": abi.StatusDefer, "ok": abi.StatusOK} {
		if res := mustResolve(t, p, values(cmd)); res.Status != want {
			t.Errorf("%s: status %s, want %s", cmd, res.Status, want)
		}
	}
	s := p.Stats()
	if s.OK != 1 || s.Deletes != 1 || s.Defers != 1 {
		t.Errorf("stats ok/delete/defer = %d/%d/%d, want 1/1/1", s.OK, s.Deletes, s.Defers)
	}
}

func TestConfigAndInit(t *testing.T) {
	t.Parallel()
	p := newPool(t, "hostile", "ns", []byte("config bytes"), resolvers.Limits{MaxInstances: 1})
	if got := string(mustResolve(t, p, values("C")).Value); got != "config bytes" {
		t.Errorf("config_read = %q", got)
	}
	if got := u32(mustResolve(t, p, values("I")).Value); got != 1 {
		t.Errorf("init ran %d times on the instance, want 1", got)
	}
	if got := u32(mustResolve(t, p, values("N")).Value); got != 3 {
		t.Errorf("instance served %d calls, want 3 (pooled)", got)
	}
	if s := p.Stats(); s.ColdStarts != 1 || s.Idle != 1 {
		t.Errorf("cold starts %d, idle %d; want 1, 1", s.ColdStarts, s.Idle)
	}
}

func TestInitFailures(t *testing.T) {
	t.Parallel()
	limits := resolvers.Limits{InitDeadline: 20 * time.Millisecond}
	for _, tt := range []struct {
		config string
		kind   resolvers.ErrorKind
	}{
		{"!f", resolvers.KindInit},    // init returns 1
		{"!t", resolvers.KindInit},    // init traps
		{"!l", resolvers.KindTimeout}, // init never returns
	} {
		t.Run(tt.config, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, "hostile", "ns", []byte(tt.config), limits)
			start := time.Now()
			_, err := p.Resolve(t.Context(), values("x"))
			t.Logf("init %s: failed after %v: %v", tt.config, time.Since(start), err)
			if callKind(err) != tt.kind {
				t.Fatalf("Resolve = %v, want kind %s", err, tt.kind)
			}
		})
	}
}

// TestDeterministicSandbox checks the fixed clocks and that random bytes
// are the same on a fresh instance, a pooled one and another pool.
func TestDeterministicSandbox(t *testing.T) {
	t.Parallel()
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{MaxInstances: 1})
	first := mustResolve(t, p, values("R")).Value
	pooled := mustResolve(t, p, values("R")).Value
	other := mustResolve(t, newPool(t, "hostile", "other", nil, resolvers.Limits{}), values("R")).Value
	if len(first) != 16 || !bytes.Equal(first, pooled) || !bytes.Equal(first, other) {
		t.Errorf("random bytes differ: fresh %x, pooled %x, other pool %x", first, pooled, other)
	}
	clocks := mustResolve(t, p, values("K")).Value
	if len(clocks) != 16 {
		t.Fatalf("clock output %x", clocks)
	}
	if wall := binary.LittleEndian.Uint64(clocks); wall != resolvers.FixedWalltime*1e9 {
		t.Errorf("realtime clock = %d, want %d", wall, uint64(resolvers.FixedWalltime*1e9))
	}
	if mono := binary.LittleEndian.Uint64(clocks[8:]); mono != resolvers.FixedNanotime {
		t.Errorf("monotonic clock = %d, want %d", mono, resolvers.FixedNanotime)
	}
}

// recorder is a slog.Handler keeping records, for the log test.
type recorder struct {
	mu      sync.Mutex
	attrs   []slog.Attr
	records *[]slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.AddAttrs(r.attrs...)
	*r.records = append(*r.records, rec)
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{attrs: append(append([]slog.Attr{}, r.attrs...), as...), records: r.records}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

func TestGuestLog(t *testing.T) {
	t.Parallel()
	var records []slog.Record
	rt := newRuntime(t, resolvers.Options{Logger: slog.New(&recorder{records: &records})})
	m, err := rt.Compile(t.Context(), wasmOf(t, "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	p := resolvers.NewPool(m, "shop", nil, resolvers.Limits{})
	defer p.Close(t.Context())
	mustResolve(t, p, values("W"))
	if len(records) != 1 {
		t.Fatalf("%d log records, want 1", len(records))
	}
	got := map[string]string{}
	records[0].Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
	if records[0].Level != slog.LevelInfo || got["guest"] != "hello from guest" || got["namespace"] != "shop" || got["module"] != m.Hash().Short() {
		t.Errorf("log record %v %v", records[0].Level, got)
	}
}

// fakeClock is a settable clock for the breaker.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestPoolBreaker(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{}, resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 2, CoolDown: time.Minute}), resolvers.WithClock(clock.Now))
	for range 2 {
		if _, err := p.Resolve(t.Context(), values("T")); callKind(err) != resolvers.KindTrap {
			t.Fatalf("Resolve(T) = %v", err)
		}
	}
	calls := p.Stats().Calls
	if _, err := p.Resolve(t.Context(), values("good")); !errors.Is(err, resolvers.ErrBreakerOpen) {
		t.Fatalf("after 2 failures Resolve = %v, want ErrBreakerOpen", err)
	}
	if s := p.Stats(); s.Calls != calls || s.BreakerRejections != 1 || s.Breaker != resolvers.BreakerOpen {
		t.Errorf("open breaker: calls %d (was %d), rejections %d, state %s", s.Calls, calls, s.BreakerRejections, s.Breaker)
	}

	clock.Advance(time.Minute)
	if p.BreakerState() != resolvers.BreakerHalfOpen {
		t.Errorf("after cool-down state = %s, want half-open", p.BreakerState())
	}
	mustResolve(t, p, values("good")) // the probe
	if p.BreakerState() != resolvers.BreakerClosed {
		t.Errorf("after a good probe state = %s, want closed", p.BreakerState())
	}

	// Open it again, then reset it as a module replacement would.
	for range 2 {
		_, _ = p.Resolve(t.Context(), values("T"))
	}
	if p.BreakerState() != resolvers.BreakerOpen {
		t.Fatalf("state = %s, want open", p.BreakerState())
	}
	p.ResetBreaker()
	mustResolve(t, p, values("good"))
}

// TestPoolSharedBreaker: a pool tells WithOnOpen when its breaker opens
// on its own calls, with the time the opening ends; OpenUntil (another
// node's opening, and a grace) opens it until then without telling.
func TestPoolSharedBreaker(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	var told []time.Time
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{},
		resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 1, CoolDown: time.Minute}), resolvers.WithClock(clock.Now),
		resolvers.WithOnOpen(func(until time.Time) { told = append(told, until) }))
	p.OpenUntil(clock.Now().Add(5*time.Second), 5*time.Second)
	if _, err := p.Resolve(t.Context(), values("good")); !errors.Is(err, resolvers.ErrBreakerOpen) {
		t.Fatalf("Resolve after OpenUntil = %v, want ErrBreakerOpen", err)
	}
	clock.Advance(10 * time.Second)
	mustResolve(t, p, values("good")) // the probe closes it
	if len(told) != 0 {
		t.Errorf("OpenUntil told WithOnOpen: %v", told)
	}
	if _, err := p.Resolve(t.Context(), values("T")); callKind(err) != resolvers.KindTrap {
		t.Fatalf("Resolve(T) = %v", err)
	}
	if want := clock.Now().Add(time.Minute); len(told) != 1 || !told[0].Equal(want) {
		t.Errorf("WithOnOpen told %v, want [%v]", told, want)
	}
}

// TestCanceledCallNotCounted: a caller that goes away (its context
// canceled) stops the guest, and the breaker does not count it.
func TestCanceledCallNotCounted(t *testing.T) {
	t.Parallel()
	p := newPool(t, "hostile", "ns", nil, resolvers.Limits{Deadline: 10 * time.Second}, resolvers.WithBreaker(resolvers.BreakerConfig{Threshold: 1, CoolDown: time.Minute}))
	mustResolve(t, p, values("warm")) // cancel the call, not the cold start
	ctx, cancel := context.WithCancel(t.Context())
	stop := time.AfterFunc(20*time.Millisecond, cancel)
	defer stop.Stop()
	start := time.Now()
	_, err := p.Resolve(ctx, values("L"))
	t.Logf("canceled after %v: %v", time.Since(start), err)
	if callKind(err) != resolvers.KindCanceled {
		t.Fatalf("Resolve = %v, want KindCanceled", err)
	}
	if p.BreakerState() != resolvers.BreakerClosed {
		t.Errorf("breaker %s after a canceled call, want closed", p.BreakerState())
	}
	mustResolve(t, p, values("good"))
}

// TestNamespacesIsolated checks that two pools of the same module keep
// separate instances and configs.
func TestNamespacesIsolated(t *testing.T) {
	t.Parallel()
	m := compile(t, "hostile")
	a := resolvers.NewPool(m, "a", []byte("config a"), resolvers.Limits{MaxInstances: 1})
	b := resolvers.NewPool(m, "b", []byte("config b"), resolvers.Limits{MaxInstances: 1})
	defer a.Close(t.Context())
	defer b.Close(t.Context())
	mustResolve(t, a, values("N"))
	if got := u32(mustResolve(t, a, values("N")).Value); got != 2 {
		t.Errorf("pool a instance calls = %d, want 2", got)
	}
	if got := u32(mustResolve(t, b, values("N")).Value); got != 1 {
		t.Errorf("pool b instance calls = %d, want 1 (not a's instance)", got)
	}
	if got := string(mustResolve(t, b, values("C")).Value); got != "config b" {
		t.Errorf("pool b config = %q", got)
	}
	in := values("x")
	in.Namespace = "a"
	if _, err := b.Resolve(t.Context(), in); !errors.Is(err, resolvers.ErrNamespaceMismatch) {
		t.Errorf("input of namespace a on pool b: %v, want ErrNamespaceMismatch", err)
	}
}

func TestConcurrentResolve(t *testing.T) {
	t.Parallel()
	p := newPool(t, "longest", "ns", nil, resolvers.Limits{MaxInstances: 3})
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 30 {
				want := strings.Repeat("z", g+i+1)
				res, err := p.Resolve(context.Background(), values("a", want, "b"))
				if err != nil || string(res.Value) != want {
					t.Errorf("Resolve = %q, %v; want %q", res.Value, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if s := p.Stats(); s.ColdStarts > 3 || s.Calls != 360 {
		t.Errorf("cold starts %d (max 3), calls %d (want 360)", s.ColdStarts, s.Calls)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, resolvers.Options{})
	m, err := rt.Compile(t.Context(), wasmOf(t, "longest"))
	if err != nil {
		t.Fatal(err)
	}
	p := resolvers.NewPool(m, "ns", nil, resolvers.Limits{})
	mustResolve(t, p, values("a"))
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Resolve(t.Context(), values("a")); !errors.Is(err, resolvers.ErrClosed) {
		t.Errorf("Resolve on closed pool = %v", err)
	}
	q := resolvers.NewPool(m, "ns2", nil, resolvers.Limits{})
	mustResolve(t, q, values("a"))
	if err := rt.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(t.Context(), values("a")); !errors.Is(err, resolvers.ErrClosed) {
		t.Errorf("Resolve after Runtime.Close = %v", err)
	}
	if _, err := rt.Compile(t.Context(), wasmOf(t, "longest")); !errors.Is(err, resolvers.ErrClosed) {
		t.Errorf("Compile after Runtime.Close = %v", err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 2 { // the second runtime finds the first one's cache
		rt := newRuntime(t, resolvers.Options{CacheDir: dir})
		m, err := rt.Compile(t.Context(), wasmOf(t, "longest"))
		if err != nil {
			t.Fatalf("runtime %d: %v", i, err)
		}
		p := resolvers.NewPool(m, "ns", nil, resolvers.Limits{})
		if got := string(mustResolve(t, p, values("a", "bb")).Value); got != "bb" {
			t.Errorf("runtime %d: Resolve = %q", i, got)
		}
		_ = p.Close(t.Context())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Errorf("cache dir is empty (%v)", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := (resolvers.Limits{}).Validate(); err != nil {
		t.Errorf("zero limits: %v", err)
	}
	if err := (resolvers.Limits{Deadline: -1, MemoryPages: 70000}).Validate(); err == nil {
		t.Error("bad limits accepted")
	}
	d := resolvers.Limits{}.WithDefaults()
	if d.Deadline != resolvers.DefaultDeadline || d.MemoryPages != 256 || d.MaxOutputBytes != resolvers.DefaultMaxOutputBytes || d.MaxInstances < 1 {
		t.Errorf("defaults %+v", d)
	}
}
