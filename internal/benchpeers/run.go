package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/concord-kv/concord/internal/bench"
	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// runConfig is one run of every selected peer through every cell, rounds
// times.
type runConfig struct {
	peers       []peer
	cells       []cell
	rounds      int
	duration    time.Duration // measured, per cell
	warmup      time.Duration // run before each cell and not measured
	records     int64
	valueSize   int
	loadClients int
	seed        uint64
	updates     string // bench.UpdateOverwrite or bench.UpdateContext, for the SDK's clients
	concord     string // concord binary
	baseline    string // baseline concord binary, if any
	self        string // this program
	dir         string // where each instance gets a directory
	log         *slog.Logger
	progress    io.Writer // a line per cell
}

// cellSlack is how much longer than its duration a cell may take before it
// is cut off (operations stuck on a dead server).
const cellSlack = time.Minute

// run measures every cell of every peer, rounds times. A round runs the
// peers one after the other, each started fresh, loaded, run through the
// cells and stopped before the next starts, so no peer's background work
// lands in another's numbers; even rounds run the peers in reverse order,
// so a drift of the machine over the run does not always favour the same
// ones. A peer that fails to start has its cells recorded as failed, and
// the run goes on.
func run(ctx context.Context, cfg runConfig, out *runReport) {
	for round := 1; round <= cfg.rounds; round++ {
		order := slices.Clone(cfg.peers)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, p := range order {
			if ctx.Err() != nil {
				return
			}
			runPeer(ctx, cfg, p, round, out)
		}
	}
}

// runPeer starts a fresh instance of p, loads it and runs the cells.
func runPeer(ctx context.Context, cfg runConfig, p peer, round int, out *runReport) {
	log := cfg.log.With("round", round, "peer", p.name)
	fail := func(err error) {
		log.Error("peer failed", "err", err)
		for _, c := range cfg.cells {
			out.Cells = append(out.Cells, cellResult{Round: round, Peer: p.name, Cell: c.name(), Workload: c.workload.Name, Clients: c.clients, Error: err.Error()})
		}
	}
	dir := filepath.Join(cfg.dir, fmt.Sprintf("round%d-%s", round, p.name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
		return
	}
	log.Info("starting")
	inst, err := p.start(ctx, &env{dir: dir, concord: cfg.concord, baseline: cfg.baseline, self: cfg.self, valueSize: cfg.valueSize, updates: cfg.updates, log: log})
	if err != nil {
		fail(err)
		return
	}
	defer func() {
		if err := inst.close(); err != nil {
			log.Warn("stopping", "err", err)
		}
	}()
	out.notePeer(p, inst)
	loadWorkload := ycsb.Workload{Name: "load", Distribution: "uniform"}
	load := measure(ctx, cfg, inst, round, p.name, cell{workload: loadWorkload, clients: cfg.loadClients}, -1)
	out.Loads = append(out.Loads, load)
	fmt.Fprintln(cfg.progress, load.line())
	if load.Error != "" || load.Report.Errors > 0 {
		fail(fmt.Errorf("loading %d records failed: %s", cfg.records, load.problem()))
		return
	}
	peaks := map[cell]float64{} // closed-loop throughput of this round's cells
	for _, c := range cfg.cells {
		if ctx.Err() != nil {
			return
		}
		var rate float64
		if c.half {
			if rate = peaks[c.peak()] / 2; rate <= 0 {
				out.Cells = append(out.Cells, cellResult{Round: round, Peer: p.name, Cell: c.name(), Workload: c.workload.Name, Clients: c.clients,
					Error: fmt.Sprintf("no throughput of %s measured in this round to halve", c.peak().name())})
				continue
			}
		}
		r := measure(ctx, cfg, inst, round, p.name, c, rate)
		if !c.half && r.Error == "" && r.Report != nil {
			peaks[c] = r.Report.Throughput
		}
		out.Cells = append(out.Cells, r)
		fmt.Fprintln(cfg.progress, r.line())
	}
}

// measure runs one cell, in an open loop at rate ops/s when rate is
// positive, or inserts the records when rate is negative (the load), and
// samples the CPU the servers, this process and the rest of the machine
// used.
func measure(ctx context.Context, cfg runConfig, inst instance, round int, peerName string, c cell, rate float64) cellResult {
	load := rate < 0
	r := cellResult{Round: round, Peer: peerName, Cell: c.name(), Workload: c.workload.Name, Clients: c.clients, ServerProcesses: len(inst.pids())}
	stores, closeClients, err := inst.clients(ctx, c.clients)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer closeClients()
	base := bench.Config{Stores: stores, Workload: c.workload, Records: cfg.records, ValueSize: cfg.valueSize, Seed: cfg.seed}
	if load {
		base.Load = true
	} else if cfg.warmup > 0 {
		warm := base
		warm.Duration, warm.Seed = cfg.warmup, cfg.seed+1_000_000
		if _, err := bench.Run(ctx, warm); err != nil {
			r.Error = err.Error()
			return r
		}
	}
	before, err := sampleCPU(inst.pids())
	if err != nil {
		r.Error = err.Error()
		return r
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration+cellSlack)
	defer cancel()
	cfgRun := base
	if !load {
		cfgRun.Duration, cfgRun.Rate = cfg.duration, rate
	}
	res, err := bench.Run(runCtx, cfgRun)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	after, err := sampleCPU(inst.pids())
	if err != nil {
		r.Error = fmt.Sprintf("%v (did a server exit?)", err)
	}
	dist := c.workload.Distribution
	if load {
		dist = "sequential"
	}
	r.Report = res.Report(c.workload.Name, dist)
	if runCtx.Err() != nil && ctx.Err() == nil {
		r.Error = fmt.Sprintf("cut off %s after its end", cellSlack)
	}
	r.setCPU(before, after)
	return r
}

// cpuSample is the CPU time used so far by the servers, by this process
// and by the whole machine, and when.
type cpuSample struct {
	servers, self, machine time.Duration
	at                     time.Time
}

func sampleCPU(pids []int) (cpuSample, error) {
	s := cpuSample{self: selfCPU(), at: time.Now()}
	var err error
	if s.servers, err = serversCPU(pids); err != nil {
		return s, err
	}
	s.machine, _ = machineBusy()
	return s, nil
}
