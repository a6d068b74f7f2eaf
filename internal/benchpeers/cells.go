package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// cell is one measurement of a round: a workload with a number of closed-
// loop clients or, when half is set, an open loop at half the throughput
// the same peer reached in the round's closed-loop cell of that workload
// and client count (the peak), to read the tail at half of peak.
type cell struct {
	workload ycsb.Workload
	clients  int
	half     bool
}

// halfSuffix marks a cell at half of peak: "A:16@half".
const halfSuffix = "@half"

// name is the cell's short name, e.g. "C/16" or "A/16@half".
func (c cell) name() string {
	n := c.workload.Name + "/" + strconv.Itoa(c.clients)
	if c.half {
		n += halfSuffix
	}
	return n
}

// peak is the closed-loop cell whose throughput a cell at half of peak
// halves.
func (c cell) peak() cell { return cell{workload: c.workload, clients: c.clients} }

// label is the cell's name for the report, e.g. "YCSB-C (get) × 16".
func (c cell) label() string {
	what := map[string]string{"A": "YCSB-A (50/50 get/put)", "B": "YCSB-B (95/5 get/put)", "C": "YCSB-C (get)",
		"D": "YCSB-D (get latest/insert)", "F": "YCSB-F (get/read-modify-write)", "U": "put only"}[c.workload.Name]
	l := fmt.Sprintf("%s × %d", what, c.clients)
	if c.half {
		l += ", open loop at half of peak"
	}
	return l
}

// defaultCells are the cells of a round: gets, a 50/50 mix and puts with
// 16 clients, the mix again in an open loop at half the throughput it
// reached (issue 11's tail goal is stated there), then the mix and gets
// with 64 clients.
const defaultCells = "C:16,A:16,U:16,A:16@half,A:64,C:64"

// parseCells parses a comma-separated list of WORKLOAD:CLIENTS, the
// workload one of YCSB's A, B, C, D, F or U (put only), each optionally
// followed by @half: an open loop at half of the throughput of the same
// WORKLOAD:CLIENTS, which must come before it.
func parseCells(s string) ([]cell, error) {
	var out []cell
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		spec, half := strings.CutSuffix(part, halfSuffix)
		name, n, ok := strings.Cut(spec, ":")
		clients, err := strconv.Atoi(n)
		if !ok || err != nil || clients < 1 {
			return nil, fmt.Errorf("--cells %q: want WORKLOAD:CLIENTS, e.g. C:16", part)
		}
		w, err := ycsb.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--cells %q: %w", part, err)
		}
		c := cell{workload: w, clients: clients, half: half}
		if half && !slices.Contains(out, c.peak()) {
			return nil, fmt.Errorf("--cells %q: a cell at half of peak needs %s:%d before it, whose throughput it halves", part, w.Name, clients)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--cells %q: name at least one cell", s)
	}
	return out, nil
}
