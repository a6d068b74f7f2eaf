package ycsb

import (
	"fmt"
	"strconv"
	"strings"
)

// Op is one kind of operation of a workload.
type Op int

// The operations of YCSB's core workloads. Update writes a new value over
// a key; ReadModifyWrite reads it and writes a value derived from the read.
const (
	Read Op = iota
	Update
	Insert
	ReadModifyWrite
	numOps
)

// Ops lists every operation, in report order.
var Ops = []Op{Read, Update, Insert, ReadModifyWrite}

func (o Op) String() string {
	switch o {
	case Read:
		return "read"
	case Update:
		return "update"
	case Insert:
		return "insert"
	case ReadModifyWrite:
		return "read-modify-write"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Workload is an operation mix and a request distribution.
type Workload struct {
	Name string
	// Proportions of each operation, indexed by Op; they sum to 1.
	Proportions [numOps]float64
	// Distribution is the default request distribution: zipfian, uniform
	// or latest.
	Distribution string
}

// workloads are YCSB's core workloads (workloads/workload[a-f]; E, scans,
// is left out: concord has no range reads), and U, put only, which YCSB's
// core set lacks: every operation overwrites a zipfian-chosen key.
var workloads = map[string]Workload{
	"A": {Name: "A", Proportions: [numOps]float64{Read: 0.5, Update: 0.5}, Distribution: "zipfian"},
	"B": {Name: "B", Proportions: [numOps]float64{Read: 0.95, Update: 0.05}, Distribution: "zipfian"},
	"C": {Name: "C", Proportions: [numOps]float64{Read: 1}, Distribution: "zipfian"},
	"D": {Name: "D", Proportions: [numOps]float64{Read: 0.95, Insert: 0.05}, Distribution: "latest"},
	"F": {Name: "F", Proportions: [numOps]float64{Read: 0.5, ReadModifyWrite: 0.5}, Distribution: "zipfian"},
	"U": {Name: "U", Proportions: [numOps]float64{Update: 1}, Distribution: "zipfian"},
}

// Lookup returns the workload named name (a, b, c, d, f or u, any case).
func Lookup(name string) (Workload, error) {
	w, ok := workloads[strings.ToUpper(name)]
	if !ok {
		return Workload{}, fmt.Errorf("ycsb: unknown workload %q: use A, B, C, D, F or U (put only)", name)
	}
	return w, nil
}

// Choose draws the next operation.
func (w Workload) Choose(r *Rand) Op {
	u := r.Float64()
	for _, op := range Ops {
		if u < w.Proportions[op] {
			return op
		}
		u -= w.Proportions[op]
	}
	return Read
}

// NewChooser returns the key chooser of a distribution for a key space
// of n records.
func NewChooser(distribution string, n int64) (KeyChooser, error) {
	switch distribution {
	case "zipfian":
		return NewScrambledZipfian(), nil
	case "uniform":
		return Uniform{}, nil
	case "latest":
		return NewLatest(n), nil
	}
	return nil, fmt.Errorf("ycsb: unknown request distribution %q: use zipfian, uniform or latest", distribution)
}

// Key is the name of record n: "user" and n zero-padded to ten digits, so
// keys sort in insertion order.
func Key(n int64) []byte { return fmt.Appendf(nil, "user%010d", n) }

// Updates tells whether the workload updates records.
func (w Workload) Updates() bool { return w.Proportions[Update] > 0 }
