package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// cell is one measurement of a round: a workload with a number of closed-
// loop clients.
type cell struct {
	workload ycsb.Workload
	clients  int
}

// name is the cell's short name, e.g. "C/16".
func (c cell) name() string { return c.workload.Name + "/" + strconv.Itoa(c.clients) }

// label is the cell's name for the report, e.g. "YCSB-C (get) × 16".
func (c cell) label() string {
	what := map[string]string{"A": "YCSB-A (50/50 get/put)", "B": "YCSB-B (95/5 get/put)", "C": "YCSB-C (get)",
		"D": "YCSB-D (get latest/insert)", "F": "YCSB-F (get/read-modify-write)", "U": "put only"}[c.workload.Name]
	return fmt.Sprintf("%s × %d", what, c.clients)
}

// defaultCells are the cells of a round: gets, a 50/50 mix and puts with
// 16 clients, then the mix and gets with 64.
const defaultCells = "C:16,A:16,U:16,A:64,C:64"

// putOnly is the update-only workload "U" (YCSB's core workloads have
// none): every operation overwrites a zipfian-chosen key.
func putOnly() ycsb.Workload {
	w := ycsb.Workload{Name: "U", Distribution: "zipfian"}
	w.Proportions[ycsb.Update] = 1
	return w
}

// parseCells parses a comma-separated list of WORKLOAD:CLIENTS, the
// workload one of YCSB's A, B, C, D, F or U (put only).
func parseCells(s string) ([]cell, error) {
	var out []cell
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, ok := strings.Cut(part, ":")
		clients, err := strconv.Atoi(n)
		if !ok || err != nil || clients < 1 {
			return nil, fmt.Errorf("--cells %q: want WORKLOAD:CLIENTS, e.g. C:16", part)
		}
		w := putOnly()
		if !strings.EqualFold(name, "U") {
			if w, err = ycsb.Lookup(name); err != nil {
				return nil, fmt.Errorf("--cells %q: %w (or U, put only)", part, err)
			}
		}
		out = append(out, cell{workload: w, clients: clients})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--cells %q: name at least one cell", s)
	}
	return out, nil
}
