package resolvers

import (
	"fmt"

	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// Shape limits: [Runtime.Compile] refuses a module beyond them before
// compiling it. wazero's compile time grows with a function's size, its
// locals and, quadratically, the nesting of its blocks (a single function
// of nested blocks took 0.6 s at 30 KB and more than 11 CPU-minutes at
// 600 KB), and it cannot be interrupted within a function. The limits
// bound each function, and [maxCompileCost] bounds the module as a whole;
// RATIONALE.md has the measurements. The largest real modules we know (Go
// guests of 2.7 and 6.5 MB) stay well within the per-function limits.
const (
	// MaxFunctions is the number of functions a module may define.
	MaxFunctions = 50_000
	// MaxFunctionBytes is the size of one function body.
	MaxFunctionBytes = 256 << 10
	// MaxLocals is the number of parameters and locals of one function.
	MaxLocals = 4096
	// MaxNesting is the deepest nesting of blocks, loops and ifs in one
	// function (Go's compiler emits up to about 550).
	MaxNesting = 1024
)

// maxCompileCost bounds a module's estimated compile cost (see
// functionCost): about 1.5 s of compilation on the machine the limits were
// measured on. The Go set-union example (2.7 MB) costs 2.5e7.
const maxCompileCost = 40_000_000

// functionCost estimates what compiling a function costs, in units of
// roughly 15-60 ns (measured): every instruction costs a base, plus the
// locals it may touch (SSA values and register pressure), plus its nesting
// (loops and ifs fully, blocks a sixth: blocks are cheaper to compile), plus
// a fixed cost per function. It is an upper bound's shape, not a
// prediction: what matters is that no module gets past maxCompileCost and
// still compiles slowly.
func functionCost(s wasmbin.Shape) int64 {
	return 400 + int64(s.Instrs)*(10+int64(s.Locals)+int64(s.LoopDepth)+int64(s.Depth)/6)
}

// checkShape returns the reasons a module is too costly to compile.
func checkShape(m *wasmbin.Module) []string {
	var problems []string
	if len(m.Funcs) > MaxFunctions {
		return []string{fmt.Sprintf("too many functions: %d > %d", len(m.Funcs), MaxFunctions)}
	}
	var total int64
	for i := range m.Funcs {
		idx := m.ImportedFuncs() + i
		if n := len(m.Funcs[i].Body); n > MaxFunctionBytes {
			problems = append(problems, fmt.Sprintf("function %d is too large: %d bytes > %d", idx, n, MaxFunctionBytes))
			continue
		}
		s, err := m.Shape(i)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("function %d: %v", idx, err))
		case s.Locals > MaxLocals:
			problems = append(problems, fmt.Sprintf("function %d has too many locals: %d > %d", idx, s.Locals, MaxLocals))
		case s.Depth > MaxNesting:
			problems = append(problems, fmt.Sprintf("function %d nests blocks too deeply: %d > %d", idx, s.Depth, MaxNesting))
		default:
			total += functionCost(s)
			continue
		}
		if len(problems) >= 10 {
			return append(problems, "...")
		}
	}
	if len(problems) == 0 && total > maxCompileCost {
		problems = append(problems, fmt.Sprintf("too costly to compile: estimated cost %d > %d (fewer or smaller functions, shallower nesting or fewer locals would do)", total, maxCompileCost))
	}
	return problems
}
