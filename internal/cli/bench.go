package cli

import (
	"cmp"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/internal/bench"
	"github.com/concord-kv/concord/internal/bench/ycsb"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// benchFlags are the flags of bench load and bench run.
type benchFlags struct {
	*globalFlags
	endpoints       []string
	admins          []string
	namespace       string
	createNamespace bool
	settings        namespaceSettings
	records         int64
	valueSize       int
	clients         int
	seed            uint64
	routing         bool
	updates         string // bench run's --updates
	cpuProfile      string
}

func newBenchCmd(g *globalFlags) *cobra.Command {
	f := &benchFlags{globalFlags: g}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load and run YCSB-style benchmarks",
		Long: `Load and run YCSB core workloads (A, B, C, D, F) or U (put only) against one or more nodes
and report throughput, latency percentiles, errors by code and, with
--admin, the cluster's CPU per operation. See docs/benchmarks.md.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringSliceVar(&f.endpoints, "endpoint", []string{"http://127.0.0.1:7700"}, "API endpoints, repeated or comma-separated; clients are spread over them (env CONCORD_ENDPOINT)")
	pf.StringSliceVar(&f.admins, "admin", nil, "admin listeners (http://host:port) whose /metrics give process CPU, repeated or comma-separated")
	pf.StringVar(&f.namespace, "namespace", "default", "namespace")
	pf.BoolVar(&f.createNamespace, "create-namespace", false, "create the namespace first with --n, --r, --w, --durability (an existing one is kept as it is)")
	f.settings.register(pf, true)
	pf.Int64Var(&f.records, "records", 10000, "records loaded (keys user0000000000 …)")
	pf.IntVar(&f.valueSize, "value-size", 256, "value size in bytes")
	pf.IntVar(&f.clients, "clients", 16, "concurrent clients")
	pf.Uint64Var(&f.seed, "seed", 1, "seed of the key and operation choices")
	pf.StringVar(&f.cpuProfile, "cpuprofile", "", "write the load generator's CPU profile over the run to this file (go tool pprof reads it; the servers' profiles are on their admin listeners at /debug/pprof/profile)")
	pf.BoolVar(&f.routing, "routing", false, "send each operation to the first node of its key's preference list (the Go SDK's WithRouting; client-driven coordination) instead of through the client's endpoint")
	cmd.AddCommand(newBenchLoadCmd(f), newBenchRunCmd(f))
	return cmd
}

// benchRunFlags are the flags of bench run only.
type benchRunFlags struct {
	workload     string
	distribution string
	duration     time.Duration
	operations   int64
	rate         float64
	assert       string
}

func newBenchLoadCmd(f *benchFlags) *cobra.Command {
	var assert string
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Insert --records records of --value-size bytes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.execute(cmd, bench.Config{Load: true, Workload: ycsb.Workload{Name: "load", Distribution: "uniform"}}, assert)
		},
	}
	cmd.Flags().StringVar(&assert, "assert", "", "thresholds checked after the run, e.g. 'p99<40ms,throughput>3000'")
	return cmd
}

func newBenchRunCmd(f *benchFlags) *cobra.Command {
	r := &benchRunFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a YCSB workload for --duration or --operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := ycsb.Lookup(r.workload)
			if err != nil {
				return err
			}
			if err := bench.CheckUpdates(f.updates); err != nil {
				return err
			}
			return f.execute(cmd, bench.Config{Workload: w, Distribution: r.distribution,
				Duration: r.duration, Operations: r.operations, Rate: r.rate}, r.assert)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&r.workload, "workload", "A", "YCSB workload: A (50/50 read/update), B (95/5), C (read only), D (read latest 95 / insert 5), F (read-modify-write 50/50), U (put only)")
	fs.StringVar(&r.distribution, "distribution", "", "request distribution: zipfian, uniform or latest (default: the workload's)")
	fs.DurationVar(&r.duration, "duration", 0, "how long to run (default 30s unless --operations)")
	fs.Int64Var(&r.operations, "operations", 0, "operations to run instead of a duration")
	fs.Float64Var(&r.rate, "rate", 0, "open loop at this many ops/s in total, latency measured from each operation's scheduled start (default: closed loop)")
	fs.StringVar(&f.updates, "updates", bench.UpdateOverwrite, "how an update writes: overwrite (replace every version the coordinating node holds, as YCSB's update replaces a record) or context (put with the context this client last saw of the key: concurrent writers' values pile up as siblings)")
	fs.StringVar(&r.assert, "assert", "", "thresholds checked after the run, e.g. 'p99<40ms,throughput>3000'; the command fails naming each one that failed")
	return cmd
}

// execute runs cfg with the shared flags and prints the report.
func (f *benchFlags) execute(cmd *cobra.Command, cfg bench.Config, assert string) error {
	thresholds, err := bench.ParseAssert(assert)
	if err != nil {
		return err
	}
	if !cfg.Load && cfg.Duration == 0 && cfg.Operations == 0 {
		cfg.Duration = 30 * time.Second
	}
	if f.clients < 1 {
		return fmt.Errorf("--clients is %d; it must be at least 1", f.clients)
	}
	ctx := cmd.Context()
	if err := f.ensureNamespace(cmd); err != nil {
		return err
	}
	httpClient, err := f.benchHTTPClient()
	if err != nil {
		return err
	}
	endpoints := f.endpointList()
	sdks := make([]*concord.Client, len(endpoints))
	for i, e := range endpoints {
		opts := []concord.Option{concord.WithHTTPClient(httpClient), concord.WithNamespace(f.namespace)}
		if f.token != "" {
			opts = append(opts, concord.WithToken(f.token))
		}
		if f.routing {
			others := append(slices.Clone(endpoints[i+1:]), endpoints[:i]...)
			opts = append(opts, concord.WithRouting(), concord.WithEndpoints(others...))
		}
		sdks[i] = concord.New(e, opts...)
	}
	cfg.Records, cfg.ValueSize, cfg.Seed = f.records, f.valueSize, f.seed
	cfg.Progress = cmd.ErrOrStderr()
	for i := range f.clients {
		cfg.Stores = append(cfg.Stores, bench.NewSDKStore(sdks[i%len(sdks)], f.updates))
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	before := bench.SampleCPU(ctx, f.http, f.admins)
	res, err := bench.Run(ctx, cfg)
	if err := cmp.Or(stopProfile(), err); err != nil {
		return err
	}
	dist := cfg.Distribution
	switch {
	case cfg.Load:
		dist = "sequential"
	case dist == "":
		dist = cfg.Workload.Distribution
	}
	rep := res.Report(cfg.Workload.Name, dist)
	rep.Routing = f.routing
	if !cfg.Load && cfg.Workload.Updates() {
		rep.Updates = f.updates
	}
	if len(f.admins) > 0 {
		rep.CPU = bench.CPUBetween(before, bench.SampleCPU(ctx, f.http, f.admins), f.admins, rep.Operations+rep.Errors)
	}
	out := cmd.OutOrStdout()
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteTable(out)
	}
	if err != nil {
		return err
	}
	return bench.Check(rep, thresholds)
}

// endpointList splits the --endpoint values (a config file or environment
// value may hold a comma-separated list).
func (f *benchFlags) endpointList() []string {
	var out []string
	for _, e := range f.endpoints {
		for p := range strings.SplitSeq(e, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		out = []string{f.endpoint}
	}
	return out
}

// benchHTTPClient is one HTTP client for every bench client, keeping a
// connection per client alive (http.DefaultClient keeps two per host and
// would reconnect under load).
func (f *benchFlags) benchHTTPClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = f.clients
	if f.caFile != "" {
		pool, err := loadCAPool(f.caFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// ensureNamespace creates the namespace with --create-namespace.
func (f *benchFlags) ensureNamespace(cmd *cobra.Command) error {
	if !f.createNamespace {
		return nil
	}
	settings, err := f.settings.settings()
	if err != nil {
		return err
	}
	endpoints := f.endpointList()
	_, err = f.adminClientOf(endpoints[0]).CreateNamespace(cmd.Context(), &adminv1.CreateNamespaceRequest{Name: f.namespace, Settings: settings})
	switch {
	case connect.CodeOf(err) == connect.CodeAlreadyExists:
		fmt.Fprintf(cmd.ErrOrStderr(), "namespace %s exists; keeping its settings\n", f.namespace)
	case err != nil:
		return rpcError(err)
	}
	// Namespaces spread by gossip: wait until every endpoint knows it, so
	// the first operations do not fail with not_found.
	for _, e := range endpoints {
		admin := f.adminClientOf(e)
		err := wait.Within(cmd.Context(), namespaceWait, func() bool {
			_, err := admin.GetNamespace(cmd.Context(), &adminv1.GetNamespaceRequest{Name: f.namespace})
			return err == nil
		})
		if err != nil {
			return fmt.Errorf("namespace %s: %s does not know it after %s: %w", f.namespace, e, namespaceWait, err)
		}
	}
	return nil
}

// namespaceWait bounds the wait for a new namespace to reach every endpoint.
const namespaceWait = 30 * time.Second

func (f *benchFlags) adminClientOf(endpoint string) adminv1connect.AdminServiceClient {
	g := *f.globalFlags
	g.endpoint = endpoint
	return g.adminClient()
}

// startCPUProfile starts profiling this process's CPU into path (nothing
// when path is empty) and returns the function that stops and writes it.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
