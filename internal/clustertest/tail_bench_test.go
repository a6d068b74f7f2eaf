package clustertest_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// The shape of BenchmarkTailUnderBackgroundWork.
const (
	tailRate      = 400                    // foreground operations per second, open loop, in total
	tailReadKeys  = 1000                   // preloaded keys the foreground gets read
	tailBulkKeys  = 50000                  // keys behind the background work
	tailValueSize = 100                    // bytes of every value written
	tailSteady    = 10 * time.Second       // steady's window
	tailMaxWindow = 30 * time.Second       // bound on every other window
	tailAfter     = 5 * time.Second        // the baseline after each window
	tailOpTimeout = 10 * time.Second       // bound on one foreground operation
	tailPoll      = 100 * time.Millisecond // how often a window checks whether its work is done
)

// BenchmarkTailUnderBackgroundWork measures the latency of a fixed-rate
// foreground load on a 3-node cluster (N=3 R=2 W=2) while the cluster does
// background work. The load is tailRate operations per second in total,
// open loop and charged from each operation's due time: gets of tailReadKeys
// preloaded keys and puts of new keys, alternately, through nodes 0, 1 and
// 2 in turn, in namespace default (synced). The background work is over
// tailBulkKeys keys written beforehand into namespace bulk (same N, R, W,
// buffered durability so they are written quickly):
//
//   - steady: none, for tailSteady;
//   - handoff: a fourth node joins (staged and committed on node 0) and
//     fetches its partitions, until node 0 sees the handoff complete;
//   - aae-repair: node 2 was partitioned away while the bulk keys were
//     written, with hint delivery off; after the heal anti-entropy repairs
//     it, until node 2 holds every bulk key;
//   - hint-delivery: the same divergence with anti-entropy off, repaired by
//     the hints nodes 0 and 1 kept, until no node holds a hint.
//
// Otherwise the clusters run with the harness's defaults (anti-entropy
// every 10ms, hints every 100ms), except that tombstone purging is off.
//
// The window opens when the background work starts (at the heal, for the
// partition scenarios: the load goes through nodes 0 and 1 until gossip
// sees node 2 alive again) and closes when the work is done, at most
// tailMaxWindow; the operations due in it are counted, including those
// answered after it closed. The benchmark reports their p50-ms, p90-ms,
// p99-ms, p99.9-ms and max-ms (get-p99-ms and put-p99-ms by kind), ops,
// errors and window-s; the work done: keys-moved (the joiner's handoff
// progress), keys-repaired or hints-delivered (node Stats, from the heal
// on); and, on Linux, the cores this process (cluster and load) and the
// rest of the machine kept busy in the window: cpu-cores and other-cores.
// The same load then runs for tailAfter more on the same cluster, the work
// done, as a baseline close in time (on a shared machine, the load of
// other work drifts from one scenario to the next): after-p99-ms, and
// p99/after, the window's p99 over it (steady's shows the noise). With -v
// it logs each node's counters over the window, and a line per pacer tick
// (tickLog): the foreground latency of the operations due in it, each
// node's pacer share and the hints it delivered and keys it repaired. A
// scenario takes 15 to 35 seconds on a 2-core machine, and b.N runs it
// b.N times, so run it once:
//
//	go test -run '^$' -bench BenchmarkTailUnderBackgroundWork -benchtime 1x ./internal/clustertest/
//
// More runs (-benchtime 3x) merge their histograms. `make bench`'s
// -benchtime 2000x skips it. Results are in docs/benchmarks.md, "Tail
// latency under background work".
func BenchmarkTailUnderBackgroundWork(b *testing.B) {
	// A count is run after a first run of one: skip before that one.
	if n := benchtimeCount(); n > 10 {
		b.Skipf("-benchtime %dx: %d runs of each scenario would take hours; run with -benchtime 1x", n, n)
	}
	for _, sc := range tailScenarios {
		b.Run(sc.name, func(b *testing.B) {
			if b.N > 10 {
				b.Skipf("b.N = %d runs of a scenario would take hours: run with -benchtime 1x", b.N)
			}
			hist, gets, puts, after := newTailHistogram(), newTailHistogram(), newTailHistogram(), newTailHistogram()
			var ops, errs, work int64
			var window, cpu, otherCPU time.Duration
			for range b.N {
				r := runTailScenario(b, sc)
				hist.Merge(r.hist)
				gets.Merge(r.gets)
				puts.Merge(r.puts)
				after.Merge(r.after)
				ops += r.ops
				errs += r.errs
				work += r.work
				window += r.window
				cpu += r.cpu
				otherCPU += r.otherCPU
			}
			ms := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
			b.ReportMetric(ms(hist, 50), "p50-ms")
			b.ReportMetric(ms(hist, 90), "p90-ms")
			b.ReportMetric(ms(hist, 99), "p99-ms")
			b.ReportMetric(ms(hist, 99.9), "p99.9-ms")
			b.ReportMetric(float64(hist.Max())/1000, "max-ms")
			b.ReportMetric(ms(gets, 99), "get-p99-ms")
			b.ReportMetric(ms(puts, 99), "put-p99-ms")
			b.ReportMetric(ms(after, 99), "after-p99-ms")
			b.ReportMetric(ms(hist, 99)/ms(after, 99), "p99/after")
			n := float64(b.N)
			b.ReportMetric(float64(ops)/n, "ops")
			b.ReportMetric(float64(errs)/n, "errors")
			b.ReportMetric(window.Seconds()/n, "window-s")
			if sc.workUnit != "" {
				b.ReportMetric(float64(work)/n, sc.workUnit)
			}
			if cpu > 0 {
				b.ReportMetric(cpu.Seconds()/window.Seconds(), "cpu-cores")
				b.ReportMetric(otherCPU.Seconds()/window.Seconds(), "other-cores")
			}
		})
	}
}

// benchtimeCount returns the count of a -benchtime of the form Nx, or 0.
func benchtimeCount() int {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return 0
	}
	n, ok := strings.CutSuffix(f.Value.String(), "x")
	if !ok {
		return 0
	}
	count, _ := strconv.Atoi(n)
	return count
}

// tailScenario is one kind of background work.
type tailScenario struct {
	name     string
	opts     clustertest.Options
	workUnit string // the metric of the work done; empty: none
	// prepare sets the work up (unmeasured) and returns its hooks.
	prepare func(b *testing.B, c *clustertest.Cluster, all *[]*clustertest.Node) backgroundWork
}

// backgroundWork are a scenario's hooks around its window.
type backgroundWork struct {
	// start begins the work, once the window has opened. Until it
	// returns, the load goes through the nodes of startVia (indexes in
	// Cluster.Nodes; nil: all), then through all.
	start    func()
	startVia []int
	done     func() bool      // whether the work is finished (polled)
	work     func() int64     // how much work was done, once done
	check    func(work int64) // fails the benchmark if the work did not happen
}

var tailScenarios = []tailScenario{
	{
		name: "steady",
		prepare: func(*testing.B, *clustertest.Cluster, *[]*clustertest.Node) backgroundWork {
			var opened time.Time
			return backgroundWork{
				start: func() { opened = time.Now() },
				done:  func() bool { return time.Since(opened) >= tailSteady },
			}
		},
	},
	{
		name:     "handoff",
		workUnit: "keys-moved",
		prepare: func(b *testing.B, c *clustertest.Cluster, all *[]*clustertest.Node) backgroundWork {
			writeKeys(b, clientsOf(c.Nodes...), createBulkNamespace(b, c).Name, "bulk", tailBulkKeys, 0)
			joiner := c.AddNode()
			*all = append(*all, joiner)
			admin := c.Nodes[0].Node()
			return backgroundWork{
				start: func() {
					if _, err := admin.StageJoin(joiner.ID()); err != nil {
						b.Fatal(err)
					}
					if _, _, err := admin.Commit(); err != nil {
						b.Fatal(err)
					}
				},
				done: func() bool { _, _, done := admin.Handoffs(); return done },
				work: func() int64 {
					// The joiner's own progress is current; the admin
					// node's comes through gossip.
					_, progress, _ := joiner.Node().Handoffs()
					var keys uint64
					for _, p := range progress {
						keys += p.Keys
					}
					return int64(keys)
				},
				check: func(keys int64) {
					if keys == 0 {
						b.Fatal("the join moved no key")
					}
				},
			}
		},
	},
	{
		name:     "aae-repair",
		opts:     clustertest.Options{HintInterval: time.Hour},
		workUnit: "keys-repaired",
		prepare: func(b *testing.B, c *clustertest.Cluster, _ *[]*clustertest.Node) backgroundWork {
			return divergeNode2(b, c, func() int64 { return sumStats(c, func(s node.Stats) int64 { return s.AAEKeysRepaired }) })
		},
	},
	{
		name:     "hint-delivery",
		opts:     clustertest.Options{AAEInterval: time.Hour},
		workUnit: "hints-delivered",
		prepare: func(b *testing.B, c *clustertest.Cluster, _ *[]*clustertest.Node) backgroundWork {
			w := divergeNode2(b, c, func() int64 { return sumStats(c, func(s node.Stats) int64 { return s.HintsDelivered }) })
			w.done = func() bool { return sumStats(c, func(s node.Stats) int64 { return s.HintBacklog }) == 0 }
			return w
		},
	},
}

// divergeNode2 partitions node 2 away, writes tailBulkKeys keys through
// nodes 0 and 1, and returns the work of bringing node 2 up to date after
// the heal: done when node 2 holds every key, counted by counter from the
// heal on.
func divergeNode2(b *testing.B, c *clustertest.Cluster, counter func() int64) backgroundWork {
	ns := createBulkNamespace(b, c)
	c.Partition([]int{0, 1}, []int{2})
	writeKeys(b, clientsOf(c.Nodes[0], c.Nodes[1]), ns.Name, "bulk", tailBulkKeys, 0)
	var before int64
	missing := newMissingScan(b, c.Nodes[2], ns.StorageName(), "bulk")
	return backgroundWork{
		// Node 2 cannot coordinate until gossip sees the others alive
		// again: clients, like a load balancer's health check, wait.
		start: func() {
			before = counter()
			healStart := time.Now()
			c.Heal()
			b.Logf("%d done while gossip healed (%v)", counter()-before, time.Since(healStart).Round(time.Millisecond))
		},
		startVia: []int{0, 1},
		done:     missing.done,
		work:     func() int64 { return counter() - before },
		check: func(n int64) {
			if !missing.done() {
				b.Fatalf("node 2 still misses bulk key %d of %d", missing.next, tailBulkKeys)
			}
			if n == 0 {
				b.Fatal("node 2 was brought up to date, but not by the background work measured")
			}
		},
	}
}

// nodeStats returns the nodes' counters (zero for a node that is not
// running yet).
func nodeStats(nodes []*clustertest.Node) []node.Stats {
	out := make([]node.Stats, len(nodes))
	for i, n := range nodes {
		if nn := n.Node(); nn != nil {
			out[i] = nn.Stats()
		}
	}
	return out
}

// statsDelta lists the counters that changed from before to after (gauges
// such as HintBacklog as a change too).
func statsDelta(before, after node.Stats) string {
	var out []string
	bv, av := reflect.ValueOf(before), reflect.ValueOf(after)
	for i := range av.NumField() {
		if !av.Field(i).CanInt() {
			continue
		}
		if d := av.Field(i).Int() - bv.Field(i).Int(); d != 0 {
			out = append(out, fmt.Sprintf("%s%+d", av.Type().Field(i).Name, d))
		}
	}
	return strings.Join(out, " ")
}

// cpuTimes returns the CPU time (user and system) this process and the
// whole machine have used, from Linux's /proc; ok is false elsewhere. Both
// count in the kernel's clock ticks, USER_HZ, 100 on every Linux platform
// Go supports.
func cpuTimes() (self, machine time.Duration, ok bool) {
	const tick = time.Second / 100
	ticks := func(fields []string) (time.Duration, bool) {
		var sum int64
		for _, f := range fields {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, false
			}
			sum += n
		}
		return time.Duration(sum) * tick, true
	}
	st, err1 := os.ReadFile("/proc/self/stat")
	all, err2 := os.ReadFile("/proc/stat")
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	// After the command's name: state, ppid, ... utime and stime are the
	// 12th and 13th.
	_, rest, _ := strings.Cut(string(st), ") ")
	f := strings.Fields(rest)
	// cpu  user nice system idle iowait irq softirq steal
	line, _, _ := strings.Cut(string(all), "\n")
	g := strings.Fields(line)
	if len(f) < 13 || len(g) < 9 || g[0] != "cpu" {
		return 0, 0, false
	}
	self, ok1 := ticks(f[11:13])
	machine, ok2 := ticks([]string{g[1], g[2], g[3], g[6], g[7], g[8]})
	return self, machine, ok1 && ok2
}

// sumStats sums one of the starting nodes' counters.
func sumStats(c *clustertest.Cluster, f func(node.Stats) int64) int64 {
	var sum int64
	for _, n := range c.Nodes {
		sum += f(n.Node().Stats())
	}
	return sum
}

// missingScan tells whether a node holds every bulk key, reading on from
// the first key it missed last time (so polling stays cheap).
type missingScan struct {
	b      *testing.B
	n      *clustertest.Node
	ns     string // storage namespace
	prefix string
	next   int
}

func newMissingScan(b *testing.B, n *clustertest.Node, ns, prefix string) *missingScan {
	return &missingScan{b: b, n: n, ns: ns, prefix: prefix}
}

func (m *missingScan) done() bool {
	for ; m.next < tailBulkKeys; m.next++ {
		o, err := m.n.Node().ReadLocal(m.b.Context(), m.ns, bulkKey(m.prefix, m.next))
		if err != nil {
			m.b.Fatal(err)
		}
		if o.IsZero() {
			return false
		}
	}
	return true
}

// tailResult is one run of a scenario.
type tailResult struct {
	hist      *hdrhistogram.Histogram // µs, operations due in the window
	gets      *hdrhistogram.Histogram // the same, gets only
	puts      *hdrhistogram.Histogram // the same, puts only
	after     *hdrhistogram.Histogram // µs, operations of the tailAfter that follows
	ops, errs int64
	work      int64
	window    time.Duration
	// CPU time over the window, of this process (the cluster and the
	// load) and of the rest of the machine; zero where /proc is missing.
	cpu, otherCPU time.Duration
	samples       []tailSample // every operation due in the window
}

func runTailScenario(b *testing.B, sc tailScenario) tailResult {
	setup := time.Now()
	opts := sc.opts
	// The harness checks for tombstones to purge every 50ms by reading
	// every object: with the bulk keys stored, that would be the heaviest
	// background work of all. Nothing here deletes, so no check is needed.
	opts.PurgeInterval = time.Hour
	c := clustertest.Start(b, opts)
	all := append([]*clustertest.Node(nil), c.Nodes...)
	// Stop the nodes when the run ends, so that a next run (b.N > 1) does
	// not share the machine with this cluster's background loops.
	defer func() {
		for _, n := range all {
			n.Kill()
		}
	}()
	clients := clientsOf(c.Nodes...)
	writeKeys(b, clients, "default", "read", tailReadKeys, 3)
	w := sc.prepare(b, c, &all)

	b.Logf("set up in %v", time.Since(setup).Round(time.Millisecond))
	before := nodeStats(all)
	self0, machine0, cpuOK := cpuTimes()
	first := clients
	if w.startVia != nil {
		first = nil
		for _, i := range w.startVia {
			first = append(first, clients[i])
		}
	}
	load := startOpenLoop(first)
	var ticks *tickLog
	if testing.Verbose() {
		ticks = startTickLog(all, load.start)
	}
	w.start()
	load.via(clients)
	deadline := time.Now().Add(tailMaxWindow)
	for !w.done() && time.Now().Before(deadline) {
		time.Sleep(tailPoll)
	}
	r := load.stop()
	if self1, machine1, ok := cpuTimes(); ok && cpuOK {
		r.cpu = self1 - self0
		r.otherCPU = max(machine1-machine0-r.cpu, 0) // the two are read at slightly different times
	}
	after := nodeStats(all)
	if ticks != nil {
		ticks.stop()
		ticks.log(b, r.samples)
	}
	for i, n := range all {
		b.Logf("node %d over the window: %s", n.Index, statsDelta(before[i], after[i]))
	}
	if w.work != nil {
		r.work = w.work()
	}
	if w.check != nil {
		w.check(r.work)
	}
	// The same load for tailAfter more, on the same cluster and data, with
	// the work done: a baseline next to the window in time, as the load
	// that others put on a shared machine drifts from one scenario to the
	// next.
	base := startOpenLoop(clients)
	time.Sleep(tailAfter)
	r.after = base.stop().hist
	return r
}

// openLoop sends tailRate operations per second: operation i is due at
// start + i/tailRate and is sent then in a goroutine of its own, however
// many are still waiting for answers, and charged from its due time. A
// stall is so charged to every operation it delays, and a pool of workers
// that a stall exhausts is not measured instead of the cluster
// (docs/benchmarks.md, "Open loop and coordinated omission").
type openLoop struct {
	clients atomic.Pointer[[]kvv1connect.KVServiceClient]
	start   time.Time
	end     atomic.Int64 // UnixNano of the window's end; 0 while open
	stopped chan struct{}
	sending sync.WaitGroup // the dispatcher
	ops     sync.WaitGroup // operations sent and not answered

	mu      sync.Mutex
	samples []tailSample
}

type tailSample struct {
	due     time.Duration // from the loop's start
	latency time.Duration
	put     bool
	err     bool
}

func startOpenLoop(clients []kvv1connect.KVServiceClient) *openLoop {
	l := &openLoop{start: time.Now(), stopped: make(chan struct{})}
	l.via(clients)
	l.sending.Go(l.dispatch)
	return l
}

// via sends the next operations through these clients.
func (l *openLoop) via(clients []kvv1connect.KVServiceClient) { l.clients.Store(&clients) }

func (l *openLoop) dispatch() {
	rng := rand.New(rand.NewPCG(1, 2))
	period := time.Second / tailRate
	for i := int64(0); ; i++ {
		due := l.start.Add(time.Duration(i) * period)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.stopped:
				t.Stop()
			}
		}
		if end := l.end.Load(); end != 0 && due.UnixNano() >= end {
			return
		}
		key := rng.IntN(tailReadKeys)
		l.ops.Go(func() {
			err := l.op(i, key)
			s := tailSample{due: due.Sub(l.start), latency: time.Since(due), put: i%2 == 1, err: err != nil}
			l.mu.Lock()
			l.samples = append(l.samples, s)
			l.mu.Unlock()
		})
	}
}

// op is a get of preloaded key readKey or a put of a new key,
// alternately, each coordinated by the nodes of the clients in turn.
func (l *openLoop) op(i int64, readKey int) error {
	ctx, cancel := context.WithTimeout(context.Background(), tailOpTimeout)
	defer cancel()
	clients := *l.clients.Load()
	kv := clients[(i/2)%int64(len(clients))]
	if i%2 == 0 {
		res, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: bulkKey("read", readKey)})
		if err == nil && !res.GetFound() {
			err = errors.New("preloaded key not found")
		}
		return err
	}
	_, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "fg%09d", i), Value: make([]byte, tailValueSize)})
	return err
}

// stop closes the window, waits for the operations due in it (sent late
// or not answered yet) and returns their latencies.
func (l *openLoop) stop() tailResult {
	end := time.Now()
	l.end.Store(end.UnixNano())
	close(l.stopped)
	l.sending.Wait()
	l.ops.Wait()
	r := tailResult{hist: newTailHistogram(), gets: newTailHistogram(), puts: newTailHistogram(), window: end.Sub(l.start), samples: l.samples}
	for _, s := range l.samples {
		if s.err {
			r.errs++
			continue
		}
		r.ops++
		us := max(s.latency.Microseconds(), 1) // below the top: ops time out first
		_ = r.hist.RecordValue(us)
		if s.put {
			_ = r.puts.RecordValue(us)
		} else {
			_ = r.gets.RecordValue(us)
		}
	}
	return r
}

// newTailHistogram records microseconds up to a minute, 3 significant digits.
func newTailHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
}

// clientsOf returns a client of each node's API over one h2c connection
// per node, as the Go SDK talks to a node (over HTTP/1.1, every operation
// waiting for a connection would open one, and that would be measured).
func clientsOf(nodes ...*clustertest.Node) []kvv1connect.KVServiceClient {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := testcred.Client(&http.Transport{Protocols: &p})
	out := make([]kvv1connect.KVServiceClient, len(nodes))
	for i, n := range nodes {
		out[i] = kvv1connect.NewKVServiceClient(hc, n.API)
	}
	return out
}

func bulkKey(prefix string, i int) []byte { return fmt.Appendf(nil, "%s%06d", prefix, i) }

// createBulkNamespace creates the namespace of the keys behind the
// background work (N=3 R=2 W=2 like the foreground's), with buffered
// durability so that they are written quickly before the window, and
// waits until every node knows it.
func createBulkNamespace(b *testing.B, c *clustertest.Cluster) meta.Namespace {
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	_, err := admin.CreateNamespace(b.Context(), &adminv1.CreateNamespaceRequest{Name: "bulk", Settings: &adminv1.NamespaceSettings{
		N: 3, R: 2, W: 2, Durability: adminv1.Durability_DURABILITY_BUFFERED,
	}})
	if err != nil {
		b.Fatal(err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			if _, err := n.Node().Namespace("bulk"); err != nil {
				return false
			}
		}
		return true
	}, "every node knows namespace bulk")
	ns, err := c.Nodes[0].Node().Namespace("bulk")
	if err != nil {
		b.Fatal(err)
	}
	return ns
}

// writeKeys writes n keys into namespace ns through the clients in turn,
// 64 at a time, with write quorum w (nil: the namespace's).
func writeKeys(b *testing.B, clients []kvv1connect.KVServiceClient, ns, prefix string, n int, w uint32) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				_, err := clients[i%len(clients)].Put(b.Context(), &kvv1.PutRequest{Namespace: ns, Key: bulkKey(prefix, i), Value: make([]byte, tailValueSize), W: w})
				if err != nil {
					errc <- fmt.Errorf("put %s: %w", bulkKey(prefix, i), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
