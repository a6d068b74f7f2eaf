package wasmbin

// Shape is what makes a function costly to compile: wazero's compile time
// grows with the body's size, its locals, and (quadratically) the nesting
// of its blocks.
type Shape struct {
	// Bytes is the size of the body (locals and instructions).
	Bytes int
	// Locals counts parameters and declared locals.
	Locals uint64
	// Depth is the deepest nesting of block, loop and if; LoopDepth the
	// deepest nesting counting loops and ifs only.
	Depth, LoopDepth int
	// Instrs is the number of instructions, br_table's labels counted as
	// instructions.
	Instrs int
}

// Shape decodes the body of defined function i (0 is the first defined
// function) and measures it.
func (m *Module) Shape(i int) (Shape, error) {
	f := m.Funcs[i]
	s := Shape{Bytes: len(f.Body), Locals: f.NumLocals}
	if t, ok := m.TypeAt(f.Type); ok {
		s.Locals += uint64(len(t.Params))
	}
	var loops []bool // per open construct: a loop or an if
	depth := 0
	err := Walk(f.Code, func(in Instr, d int) error {
		s.Instrs += 1 + in.Labels
		s.Depth = max(s.Depth, d)
		switch in.Op {
		case OpBlock, OpLoop, OpIf:
			loop := in.Op != OpBlock
			loops = append(loops, loop)
			if loop {
				depth++
				s.LoopDepth = max(s.LoopDepth, depth)
			}
		case OpEnd:
			if n := len(loops); n > 0 {
				if loops[n-1] {
					depth--
				}
				loops = loops[:n-1]
			}
		}
		return nil
	})
	return s, err
}
