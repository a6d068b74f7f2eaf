package clustertest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// The shape of BenchmarkNoisyNeighbour.
const (
	noisyVictimRate = 200 // the victim's puts per second, open loop, in total
	noisyQuota      = 100 // the noisy namespace's writes_per_second
	// noisyBytesPerWrite sets its write_bytes_per_second: noisyQuota writes
	// of objects of ten values a second.
	noisyBytesPerWrite = 10 * noisyValueSize
	noisyFloodRate     = 10 * noisyQuota  // what the noisy tenant sends, open loop
	noisyFloodKeys     = 16               // keys the noisy tenant writes (blind: siblings every time)
	noisyWindow        = 10 * time.Second // each measured window
	noisyWarmUp        = 5 * time.Second  // the victim's load before the first window
	noisyRounds        = 8                // noisy windows, each between two alone ones
	noisyValueSize     = 300              // bytes of every value (the hostile resolver loops on any)
	noisyOpTimeout     = 10 * time.Second
	noisyWriteBudget   = 20 * time.Millisecond // the noisy namespace's resolver write deadline
)

// BenchmarkNoisyNeighbour measures what one hostile tenant does to
// another's latency on a 3-node cluster (N=3 R=2 W=2, synced). The victim
// namespace takes noisyVictimRate puts a second (open loop, charged from
// each put's due time, through nodes 0, 1, 2 in turn) without a break,
// over 2×noisyRounds+1 windows of noisyWindow: alone, noisy, alone, …,
// noisy, alone. In each noisy window the noisy namespace sends
// noisyFloodRate blind puts a second — ten times its writes_per_second
// quota — of noisyFloodKeys keys, so that every accepted one meets
// siblings and runs its on_write resolver, which loops until its deadline
// (resolvers/testdata/loops_on_large.wat: a module that passes the upload
// checks on its small sample and loops on the tenant's real, 300-byte
// values).
//
// The machine is shared and stalls unrelated to the noisy tenant land in
// any window, so one window's p99 against another's says little: the
// benchmark compares the median of the noisy windows' p99s with the median
// of the alone windows' (issue 12's goal: noisy/alone-p99 at most 1.10),
// and logs every window's figures with the CPU time this process and the
// rest of the machine used in it. It also reports the p99 of all the
// windows of each kind together, the worst noisy window (the first, where
// each node's first resolver call loops to its deadline), what serving
// the flood costs the nodes (flood-cpu-cores: this process's CPU in the
// median noisy window less the median alone window's), and the noisy
// tenant's accepted and refused writes. The nodes and the victim's load
// run in this process; the noisy tenant's client runs in a process of its
// own (the test binary again, floodProcess), as a tenant's client runs on
// its own machine; it shares the cores here, at the lowest CPU priority
// (nice 19), so that it takes what the nodes leave idle. The victim's load
// runs noisyWarmUp before the first window. Run it once:
//
//	go test -run '^$' -bench BenchmarkNoisyNeighbour -benchtime 1x ./internal/clustertest/
func BenchmarkNoisyNeighbour(b *testing.B) {
	if b.N > 10 {
		b.Skipf("b.N = %d runs would take long: run with -benchtime 1x", b.N)
	}
	ctx := b.Context()
	c := clustertest.Start(b, clustertest.Options{PurgeInterval: time.Hour})
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	for _, req := range []*adminv1.CreateNamespaceRequest{
		{Name: "victim"},
		{Name: "noisy", Settings: &adminv1.NamespaceSettings{Limits: &adminv1.Limits{
			WritesPerSecond: noisyQuota, WriteBytesPerSecond: noisyQuota * noisyBytesPerWrite,
		}}},
	} {
		if _, err := admin.CreateNamespace(ctx, req); err != nil {
			b.Fatalf("create %s: %v", req.GetName(), err)
		}
	}
	// Uploaded like any tenant's module, checked on a small sample.
	if _, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{
		Namespace: "noisy", Source: &adminv1.UploadResolverRequest_Module{Module: hostileWasm(b)}, Name: "hostile",
		Mode: adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE, Samples: [][]byte{[]byte("a")},
		WriteDeadlineMs: uint32(noisyWriteBudget / time.Millisecond), MemoryPages: 16,
	}); err != nil {
		b.Fatalf("upload the hostile resolver: %v", err)
	}
	c.Eventually(func() bool {
		for _, n := range c.Nodes {
			v, err1 := n.Node().Namespace("victim")
			ns, err2 := n.Node().Namespace("noisy")
			if err1 != nil || err2 != nil || v.Name == "" || ns.Resolver == nil {
				return false
			}
		}
		return true
	}, "both namespaces and the resolver on every node")
	clients := clientsOf(c.Nodes...)

	flood := startFloodProcess(b, c.Nodes)
	// Warm up (connections, the first flushes) before the first window.
	victimLoad(ctx, clients, "warm-up", newTailHistogram(), noisyWarmUp)

	var alone, noisy []noisyWindowResult
	var accepted, refused, victimErrs int64
	for i := range b.N {
		for w := range 2*noisyRounds + 1 {
			flooded := w%2 == 1
			if flooded {
				flood.start()
			}
			r := victimWindow(ctx, clients, fmt.Sprintf("r%d-w%d", i, w))
			if flooded {
				a, rf := flood.stop()
				accepted, refused = accepted+a, refused+rf
			}
			victimErrs += r.errors
			kind, into := "alone", &alone
			if flooded {
				kind, into = "noisy", &noisy
			}
			*into = append(*into, r)
			b.Logf("window %d %s: %s", w, kind, r)
		}
	}
	ms := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	p99 := func(r noisyWindowResult) float64 { return ms(r.h, 99) }
	for _, k := range []struct {
		name    string
		windows []noisyWindowResult
	}{{"alone", alone}, {"noisy", noisy}} {
		all := newTailHistogram()
		for _, r := range k.windows {
			all.Merge(r.h)
		}
		b.ReportMetric(medianOf(k.windows, func(r noisyWindowResult) float64 { return ms(r.h, 50) }), k.name+"-p50-ms")
		b.ReportMetric(medianOf(k.windows, p99), k.name+"-p99-ms")
		b.ReportMetric(ms(all, 99), k.name+"-all-p99-ms")
		b.ReportMetric(ms(all, 99.9), k.name+"-all-p99.9-ms")
	}
	b.ReportMetric(medianOf(noisy, p99)/medianOf(alone, p99), "noisy/alone-p99")
	b.ReportMetric(slices.Max(mapSlice(noisy, p99)), "worst-noisy-p99-ms")
	b.ReportMetric(medianOf(noisy, noisyWindowResult.cpuShare)-medianOf(alone, noisyWindowResult.cpuShare), "flood-cpu-cores")
	n := float64(b.N)
	b.ReportMetric(float64(victimErrs)/n, "victim-errors")
	b.ReportMetric(float64(accepted)/n, "noisy-accepted")
	b.ReportMetric(float64(refused)/n, "noisy-refused")
	var calls, failures, rejected uint64
	for _, nd := range c.Nodes {
		for _, st := range nd.Node().ResolverStats() {
			if st.Namespace != "noisy" {
				continue
			}
			calls += st.Stats.Calls
			rejected += st.Stats.BreakerRejections
			for _, f := range st.Stats.Failures {
				failures += f
			}
		}
	}
	b.ReportMetric(float64(calls)/n, "resolver-calls")
	b.ReportMetric(float64(failures)/n, "resolver-failures")
	b.ReportMetric(float64(rejected)/n, "breaker-rejections")
}

// noisyWindowResult is one window of the victim's load.
type noisyWindowResult struct {
	h      *hdrhistogram.Histogram // put latency, µs from the due time
	errors int64
	// CPU time over the window, of this process (the cluster and both
	// loads) and of the rest of the machine; zero where /proc is missing.
	cpu, otherCPU time.Duration
}

// cpuShare is the process's CPU time over the window, in cores.
func (r noisyWindowResult) cpuShare() float64 { return r.cpu.Seconds() / noisyWindow.Seconds() }

func (r noisyWindowResult) String() string {
	ms := func(q float64) float64 { return float64(r.h.ValueAtQuantile(q)) / 1000 }
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms, %d errors; CPU %.2f cores here, %.2f elsewhere",
		ms(50), ms(99), ms(99.9), float64(r.h.Max())/1000, r.errors, r.cpuShare(), r.otherCPU.Seconds()/noisyWindow.Seconds())
}

// victimWindow runs the victim's puts for noisyWindow, their keys tagged
// with tag.
func victimWindow(ctx context.Context, clients []kvv1connect.KVServiceClient, tag string) noisyWindowResult {
	r := noisyWindowResult{h: newTailHistogram()}
	self0, machine0, cpuOK := cpuTimes()
	r.errors = victimLoad(ctx, clients, tag, r.h, noisyWindow)
	if self1, machine1, ok := cpuTimes(); ok && cpuOK {
		r.cpu = self1 - self0
		r.otherCPU = max(machine1-machine0-r.cpu, 0)
	}
	return r
}

// medianOf returns the median of f over rs (the mean of the middle two of
// an even count).
func medianOf[T any](rs []T, f func(T) float64) float64 {
	v := mapSlice(rs, f)
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func mapSlice[T any](rs []T, f func(T) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// victimLoad runs the victim's puts for d into h and returns the number
// that failed.
func victimLoad(ctx context.Context, clients []kvv1connect.KVServiceClient, tag string, h *hdrhistogram.Histogram, d time.Duration) int64 {
	var mu sync.Mutex
	var errCount atomic.Int64
	value := make([]byte, noisyValueSize)
	paced(ctx, noisyVictimRate, d, func(i int, due time.Time) {
		opCtx, cancel := context.WithTimeout(ctx, noisyOpTimeout)
		defer cancel()
		_, err := clients[i%len(clients)].Put(opCtx, &kvv1.PutRequest{Namespace: "victim", Key: fmt.Appendf(nil, "%s-%d", tag, i), Value: value})
		if err != nil {
			errCount.Add(1)
			return
		}
		mu.Lock()
		_ = h.RecordValue(time.Since(due).Microseconds())
		mu.Unlock()
	})
	return errCount.Load()
}

// floodNamespace sends the noisy tenant's blind puts until stop closes,
// counting the ones taken and the ones refused by its quota.
func floodNamespace(ctx context.Context, clients []kvv1connect.KVServiceClient, stop <-chan struct{}, accepted, refused *atomic.Int64) {
	floodCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
		case <-floodCtx.Done():
		}
		cancel()
	}()
	paced(floodCtx, noisyFloodRate, time.Hour, func(i int, _ time.Time) {
		opCtx, cancelOp := context.WithTimeout(floodCtx, noisyOpTimeout)
		defer cancelOp()
		value := make([]byte, noisyValueSize) // distinct values: equal ones would not be siblings
		copy(value, fmt.Appendf(nil, "v%d", i))
		_, err := clients[i%len(clients)].Put(opCtx, &kvv1.PutRequest{Namespace: "noisy", Key: fmt.Appendf(nil, "k%d", i%noisyFloodKeys), Value: value})
		switch {
		case err == nil:
			accepted.Add(1)
		case connect.CodeOf(err) == connect.CodeResourceExhausted:
			refused.Add(1)
		}
	})
}

// noisyFloodEnv, set in the environment of the test binary, makes it the
// noisy tenant's client (TestMain): the nodes' API URLs, comma-separated.
const noisyFloodEnv = "CONCORD_NOISY_FLOOD"

// floodProcess is the noisy tenant's client, in a process of its own. It
// reads commands, one a line: "flood" starts the flood (floodNamespace),
// "stop" stops it and answers "accepted refused" with the counts of that
// flood. It ends at the end of its input, and returns its exit code.
func floodProcess(endpoints []string, in io.Reader, out io.Writer) int {
	nodes := make([]*clustertest.Node, len(endpoints))
	for i, e := range endpoints {
		nodes[i] = &clustertest.Node{API: e}
	}
	clients := clientsOf(nodes...)
	ctx := context.Background()
	var (
		stop     chan struct{}
		running  sync.WaitGroup
		accepted atomic.Int64
		refused  atomic.Int64
	)
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "flood":
			if stop != nil {
				return 2
			}
			stop = make(chan struct{})
			accepted.Store(0)
			refused.Store(0)
			done := stop
			running.Go(func() { floodNamespace(ctx, clients, done, &accepted, &refused) })
		case "stop":
			if stop == nil {
				return 2
			}
			close(stop)
			running.Wait()
			stop = nil
			if _, err := fmt.Fprintln(out, accepted.Load(), refused.Load()); err != nil {
				return 1
			}
		default:
			return 2
		}
	}
	return 0
}

// floodClient drives a floodProcess.
type floodClient struct {
	b   *testing.B
	in  io.WriteCloser
	out *bufio.Reader
}

// startFloodProcess starts the noisy tenant's client on the nodes, as a
// process of its own; it ends with the benchmark.
func startFloodProcess(b *testing.B, nodes []*clustertest.Node) *floodClient {
	b.Helper()
	endpoints := make([]string, len(nodes))
	for i, n := range nodes {
		endpoints[i] = n.API
	}
	// Under the SCHED_IDLE policy where chrt(1) is found, else at the
	// lowest priority nice(1) gives: the tenant's client would run on its
	// own machine, and here it should take the cores only when the nodes
	// leave them idle (the flood's rate is reported: noisy-accepted +
	// noisy-refused). A node's thread that wakes preempts a SCHED_IDLE task
	// at once; a nice 19 one may finish its slice first (EEVDF).
	argv := []string{os.Args[0]}
	if chrt, err := exec.LookPath("chrt"); err == nil {
		argv = []string{chrt, "--idle", "0", os.Args[0]}
	} else if nice, err := exec.LookPath("nice"); err == nil {
		argv = []string{nice, "-n", "19", os.Args[0]}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), noisyFloodEnv+"="+strings.Join(endpoints, ","))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the flood process: %v", err)
	}
	b.Cleanup(func() {
		_ = in.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("the flood process: %v", err)
		}
	})
	return &floodClient{b: b, in: in, out: bufio.NewReader(out)}
}

func (f *floodClient) start() {
	if _, err := io.WriteString(f.in, "flood\n"); err != nil {
		f.b.Fatalf("start the flood: %v", err)
	}
}

// stop stops the flood and returns its accepted and refused writes.
func (f *floodClient) stop() (accepted, refused int64) {
	if _, err := io.WriteString(f.in, "stop\n"); err != nil {
		f.b.Fatalf("stop the flood: %v", err)
	}
	line, err := f.out.ReadString('\n')
	if err != nil {
		f.b.Fatalf("the flood's counts: %v", err)
	}
	if _, err := fmt.Sscan(line, &accepted, &refused); err != nil {
		f.b.Fatalf("the flood's counts %q: %v", line, err)
	}
	return accepted, refused
}

// paced calls op at rate per second for d (or until ctx ends), each call
// on its own goroutine with its due time, and waits for every call.
func paced(ctx context.Context, rate int, d time.Duration, op func(i int, due time.Time)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(due)):
		}
		wg.Go(func() { op(i, due) })
	}
}

// hostileWasm builds resolvers/testdata/loops_on_large.wat: a module that
// passes the upload checks on small samples and loops on values over 200
// bytes.
func hostileWasm(tb testing.TB) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "hostile.wasm")
	if msg, err := exec.Command("wat2wasm", "--enable-all", "-o", out, filepath.Join("..", "..", "resolvers", "testdata", "loops_on_large.wat")).CombinedOutput(); err != nil {
		tb.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	if len(wasm) == 0 {
		tb.Fatal(errors.New("empty module"))
	}
	return wasm
}
