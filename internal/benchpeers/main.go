package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:          "benchpeers",
		Short:        "Measure concord and its peers with the same load in one run",
		SilenceUsage: true,
	}
	cmd.AddCommand(newRunCmd(), newBareServerCmd())
	return cmd
}

// runFlags are the flags of run.
type runFlags struct {
	peers       []string
	cells       string
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	quick       bool
	records     int64
	valueSize   int
	loadClients int
	seed        uint64
	updates     string
	concord     string
	baseline    string
	jsonPath    string
	dir         string
	keep        bool
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run every cell against every peer, round after round, and print the medians",
		Long: `Start each peer in turn (fresh and empty), load --records records of
--value-size bytes, run each cell (a YCSB workload with a number of
closed-loop clients) for --duration after --warmup, read the CPU its server
processes used, and stop it; repeat for --rounds rounds. Then print a
Markdown table of the medians with concord's ratio to each peer, and write
every raw result to --json. See docs/benchmarks.md.

--baseline adds the peer baseline: the concord peer started from another
binary (an earlier build, e.g. from make bench-peers BASE=REV), so the
table shows concord ÷ baseline next to concord ÷ each other peer.

Missing Debian packages of the selected peers (redis-server, etcd-server)
are installed with apt-get.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.execute(cmd) },
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&f.peers, "peers", defaultPeers(), "peers to measure, comma-separated: "+strings.Join(peerNames(), ", "))
	fs.StringVar(&f.cells, "cells", defaultCells, "cells of a round, WORKLOAD:CLIENTS comma-separated; workloads A, B, C, D, F of YCSB or U (put only)")
	fs.IntVar(&f.rounds, "rounds", 2, "rounds; each runs every peer through every cell")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per cell")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured time before each cell")
	fs.BoolVar(&f.quick, "quick", false, "a smoke run: --duration 2s --warmup 500ms unless given")
	fs.Int64Var(&f.records, "records", 10000, "records loaded into each peer")
	fs.IntVar(&f.valueSize, "value-size", 256, "value size in bytes")
	fs.IntVar(&f.loadClients, "load-clients", 16, "clients that load the records")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the key and operation choices (the same for every peer)")
	fs.StringVar(&f.updates, "updates", bench.UpdateOverwrite, "how concord's clients write updates: overwrite (replace what the coordinating node holds, as the other peers' updates do) or context (put with the context the client last saw; needed with a --baseline built before the overwrite option)")
	fs.StringVar(&f.concord, "concord", "", "the concord binary (make bench-peers builds one); needed with the concord peer")
	fs.StringVar(&f.baseline, "baseline", "", "an earlier concord binary to compare with: adds the peer baseline, the concord peer started from it")
	fs.StringVar(&f.jsonPath, "json", "bench-peers.json", "file the raw results are written to")
	fs.StringVar(&f.dir, "dir", "", "directory for the peers' data and logs (default: a temporary one, removed at the end unless --keep)")
	fs.BoolVar(&f.keep, "keep", false, "keep the data and logs directory")
	return cmd
}

func (f *runFlags) execute(cmd *cobra.Command) error {
	ctx := cmd.Context()
	if f.quick {
		if !cmd.Flags().Changed("duration") {
			f.duration = 2 * time.Second
		}
		if !cmd.Flags().Changed("warmup") {
			f.warmup = 500 * time.Millisecond
		}
	}
	ps, err := selectPeers(f.peers, f.baseline != "")
	if err != nil {
		return err
	}
	cells, err := parseCells(f.cells)
	if err != nil {
		return err
	}
	switch {
	case f.rounds < 1:
		return fmt.Errorf("--rounds is %d; it must be at least 1", f.rounds)
	case f.duration <= 0:
		return errors.New("--duration must be positive")
	case f.records < 1 || f.valueSize < 0 || f.loadClients < 1:
		return errors.New("--records and --load-clients must be positive, --value-size not negative")
	}
	if err := bench.CheckUpdates(f.updates); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	cfg := runConfig{peers: ps, cells: cells, rounds: f.rounds, duration: f.duration, warmup: f.warmup,
		records: f.records, valueSize: f.valueSize, loadClients: f.loadClients, seed: f.seed, updates: f.updates,
		log: log, progress: cmd.ErrOrStderr()}
	if err := f.prepare(ctx, &cfg); err != nil {
		return err
	}
	if f.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "bench-peers-"); err != nil {
			return err
		}
	} else {
		cfg.dir = f.dir
	}
	if !f.keep {
		defer os.RemoveAll(cfg.dir)
	} else {
		log.Info("keeping data and logs", "dir", cfg.dir)
	}

	rep := &runReport{Started: time.Now(), Command: os.Args, Machine: thisMachine(), Settings: settings{
		Records: f.records, ValueSize: f.valueSize, Distribution: "zipfian", Rounds: f.rounds,
		Duration: f.duration.String(), Warmup: f.warmup.String(), LoadClients: f.loadClients, Seed: f.seed,
		Updates: f.updates,
	}}
	for _, c := range cells {
		rep.Settings.Cells = append(rep.Settings.Cells, c.name())
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.name)
	}
	log.Info("starting", "peers", names, "cells", f.cells, "rounds", f.rounds, "duration", f.duration, "dir", cfg.dir)
	run(ctx, cfg, rep)
	rep.Finished = time.Now()
	rep.Summary = summarize(cells, ps, rep.Cells)
	if err := writeJSON(f.jsonPath, rep); err != nil {
		return err
	}
	writeTable(cmd.OutOrStdout(), rep)
	fmt.Fprintf(cmd.ErrOrStderr(), "\nraw results: %s (%s in all)\n", f.jsonPath, rep.Finished.Sub(rep.Started).Round(time.Second))
	return ctx.Err()
}

// prepare installs what the selected peers need and finds the binaries.
func (f *runFlags) prepare(ctx context.Context, cfg *runConfig) error {
	binaries := []struct {
		peer, flag, path, hint string
		dest                   *string
	}{
		{concordPeer.name, "--concord", f.concord, "go build -o bin/concord ./cmd/concord, or make bench-peers", &cfg.concord},
		{baselinePeer.name, "--baseline", f.baseline, "make bench-peers BASE=REV builds bin/concord-base from revision REV", &cfg.baseline},
	}
	var pkgs []debPackage
	for _, p := range cfg.peers {
		pkgs = append(pkgs, p.packages...)
	}
	for _, b := range binaries {
		if b.path == "" {
			if slices.ContainsFunc(cfg.peers, func(p peer) bool { return p.name == b.peer }) {
				return fmt.Errorf("%s: give the %s binary (%s)", b.flag, b.peer, b.hint)
			}
			continue
		}
		abs, err := filepath.Abs(b.path)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w", b.flag, err)
		}
		*b.dest = abs
	}
	if err := ensurePackages(ctx, cfg.log, pkgs); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.self = self
	return nil
}

func thisMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	m.Commit = versionOf("git", "rev-parse", "--short", "HEAD")
	if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
		m.Commit += "+dirty"
	}
	return m
}

// bareServerFlags are the flags of bare-server.
type bareServerFlags struct {
	addr      string
	valueSize int
}

func newBareServerCmd() *cobra.Command {
	f := &bareServerFlags{}
	cmd := &cobra.Command{
		Use:   "bare-server",
		Short: "Serve concord's KV service with a handler that answers at once (the bare peer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveBare(cmd.Context(), f.addr, f.valueSize)
		},
	}
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:0", "HOST:PORT to listen on")
	cmd.Flags().IntVar(&f.valueSize, "value-size", 256, "size of the value every Get returns")
	return cmd
}
