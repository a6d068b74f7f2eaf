package meter

import (
	"fmt"

	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// Opcodes the inserted sequences use.
const (
	opIf        = 0x04
	opBlock     = 0x02
	opEnd       = 0x0b
	opCall      = 0x10
	opRefFunc   = 0xd2
	opLocalGet  = 0x20
	opLocalTee  = 0x22
	opGlobalGet = 0x23
	opGlobalSet = 0x24
	opI32Const  = 0x41
	opI64Const  = 0x42
	opI32LtS    = 0x48
	opI64LtS    = 0x53
	opI32Add    = 0x6a
	opI32Sub    = 0x6b
	opI32Or     = 0x72
	opI64Sub    = 0x7d
	opI64Shl    = 0x86
	opI64ShrU   = 0x88
	opI64ExtU   = 0xad // i64.extend_i32_u
	blockEmpty  = 0x40
)

// maxFrame bounds a frame estimate, so that a few frames cannot wrap the
// i32 stack budget around.
const maxFrame = 1 << 24

// codeSection returns the new code section: the rewritten functions, then
// the wrappers.
func (w *writer) codeSection() ([]byte, error) {
	m := w.m
	b := wasmbin.AppendU32(nil, uint32(len(m.Funcs)+len(w.wrapped)))
	for i, f := range m.Funcs {
		body, err := w.function(f)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", int(w.nImported)+i, err)
		}
		b = wasmbin.AppendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	for _, i := range w.wrapped {
		body := w.wrapper(i)
		b = wasmbin.AppendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b, nil
}

// bodyScan is what the first pass over a body finds.
type bodyScan struct {
	costs   []int64 // fuel per region: [0] the function outside loops, then each loop in order
	scratch bool    // a dynamic charge needs a scratch local
}

// scan measures a body's regions and checks its indexes against the
// original module (an index that was out of range could otherwise name
// something the rewriting adds).
func (w *writer) scan(f wasmbin.Func, nLocals uint64) (bodyScan, error) {
	m := w.m
	nFuncs := w.nImported + uint32(len(m.Funcs))
	nGlobals := uint32(m.ImportedGlobals() + m.Globals)
	s := bodyScan{costs: []int64{0}}
	regions := []int{0} // region of each open construct; [0] the function
	err := wasmbin.Walk(f.Code, func(in wasmbin.Instr, _ int) error {
		s.costs[regions[len(regions)-1]]++
		switch in.Op {
		case wasmbin.OpBlock, wasmbin.OpIf:
			regions = append(regions, regions[len(regions)-1])
		case wasmbin.OpLoop:
			s.costs = append(s.costs, 0)
			regions = append(regions, len(s.costs)-1)
		case wasmbin.OpEnd:
			regions = regions[:len(regions)-1]
		case wasmbin.OpCall, wasmbin.OpRefFunc:
			if in.Index >= nFuncs {
				return fmt.Errorf("%w: function index %d out of range", wasmbin.ErrMalformed, in.Index)
			}
		case wasmbin.OpGlobal:
			if in.Index >= nGlobals {
				return fmt.Errorf("%w: global index %d out of range", wasmbin.ErrMalformed, in.Index)
			}
		case wasmbin.OpLocal:
			if uint64(in.Index) >= nLocals {
				return fmt.Errorf("%w: local index %d out of range", wasmbin.ErrMalformed, in.Index)
			}
		case wasmbin.OpMemoryGrow, wasmbin.OpMemoryBulk, wasmbin.OpTableBulk:
			s.scratch = true
		}
		if in.Type >= int64(len(m.Types)) {
			return fmt.Errorf("%w: type index %d out of range", wasmbin.ErrMalformed, in.Type)
		}
		return nil
	})
	return s, err
}

// function rewrites one function body.
func (w *writer) function(f wasmbin.Func) ([]byte, error) {
	t, ok := w.m.TypeAt(f.Type)
	if !ok {
		return nil, fmt.Errorf("%w: type index %d out of range", wasmbin.ErrMalformed, f.Type)
	}
	nLocals := uint64(len(t.Params)) + f.NumLocals
	s, err := w.scan(f, nLocals)
	if err != nil {
		return nil, unsupported(err)
	}
	frame := w.frame(nLocals)

	// Locals: the original groups, then the scratch local if needed.
	groups := f.Body[:len(f.Body)-len(f.Code)]
	out := make([]byte, 0, len(f.Body)+len(f.Body)/4+64)
	if s.scratch {
		out = wasmbin.AppendU32(out, uint32(len(f.Locals)+1))
		out = append(out, skipCount(groups)...)
		out = append(out, 1, byte(wasmbin.I32))
	} else {
		out = append(out, groups...)
	}
	scratch := uint32(nLocals)

	out = w.entry(out, s.costs[0], frame)
	out = append(out, opBlock)
	out = w.blockType(out, t.Results)
	loop := 1
	err = wasmbin.Walk(f.Code, func(in wasmbin.Instr, depth int) error {
		raw := f.Code[in.Start:in.End]
		switch in.Op {
		case wasmbin.OpLoop:
			out = append(out, raw...)
			out = w.charge(out, s.costs[loop])
			loop++
		case wasmbin.OpReturn:
			out = w.release(out, frame)
			out = append(out, raw...)
		case wasmbin.OpCall:
			if in.Index < w.nImported {
				out = w.charge(out, w.cfg.Costs.HostCall)
			}
			out = wasmbin.AppendU32(append(out, opCall), w.call(in.Index))
		case wasmbin.OpRefFunc:
			out = wasmbin.AppendU32(append(out, opRefFunc), w.ref(in.Index))
		case wasmbin.OpMemoryGrow:
			out = w.chargeOperand(out, scratch, opI64Shl, 16-w.cfg.Costs.MemoryByteShift)
			out = append(out, raw...)
		case wasmbin.OpMemoryBulk:
			out = w.chargeOperand(out, scratch, opI64ShrU, w.cfg.Costs.MemoryByteShift)
			out = append(out, raw...)
		case wasmbin.OpTableBulk:
			out = w.chargeOperand(out, scratch, opI64ShrU, w.cfg.Costs.TableElemShift)
			out = append(out, raw...)
		case wasmbin.OpEnd:
			if depth < 0 { // the function's end: close the wrapping block first
				out = append(out, opEnd)
				out = w.release(out, frame)
			}
			out = append(out, raw...)
		default:
			out = append(out, raw...)
		}
		return nil
	})
	return out, err
}

// wrapper returns the body of the wrapper of imported function i: charge,
// call, give the frame back.
func (w *writer) wrapper(i uint32) []byte {
	t, _ := w.m.FuncType(i)
	frame := w.frame(uint64(len(t.Params)))
	out := []byte{0} // no locals
	out = w.entry(out, w.cfg.Costs.HostCall, frame)
	for p := range t.Params {
		out = wasmbin.AppendU32(append(out, opLocalGet), uint32(p))
	}
	out = wasmbin.AppendU32(append(out, opCall), i)
	out = w.release(out, frame)
	return append(out, opEnd)
}

// frame estimates the stack a call of a function with n parameters and
// locals uses.
func (w *writer) frame(n uint64) int32 {
	c := w.cfg.Costs
	f := uint64(c.FrameBase) + uint64(c.FrameSlot)*n
	return int32(min(f, maxFrame))
}

// blockType appends the type of a block whose results are those of the
// function.
func (w *writer) blockType(b []byte, results []wasmbin.ValType) []byte {
	switch len(results) {
	case 0:
		return append(b, blockEmpty)
	case 1:
		return append(b, byte(results[0]))
	}
	return wasmbin.AppendS64(b, int64(w.typeIndex(wasmbin.FuncType{Results: results})))
}

// entry charges a function's entry: fuel, stack, and a check-in if either
// is exhausted.
func (w *writer) entry(b []byte, cost int64, frame int32) []byte {
	b = w.subFuel(b, cost)
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.stack)
	b = wasmbin.AppendS64(append(b, opI32Const), int64(frame))
	b = wasmbin.AppendU32(append(b, opI32Sub, opGlobalSet), w.stack)
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.fuel)
	b = append(b, opI64Const, 0, opI64LtS)
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.stack)
	b = append(b, opI32Const, 0, opI32LtS, opI32Or)
	return w.ifCheckin(b)
}

// release gives a frame back to the stack budget.
func (w *writer) release(b []byte, frame int32) []byte {
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.stack)
	b = wasmbin.AppendS64(append(b, opI32Const), int64(frame))
	return wasmbin.AppendU32(append(b, opI32Add, opGlobalSet), w.stack)
}

// charge subtracts a constant from the fuel and checks in if it is
// exhausted.
func (w *writer) charge(b []byte, cost int64) []byte {
	return w.checkFuel(w.subFuel(b, cost))
}

// chargeOperand charges for the i32 operand on top of the stack, shifted
// (op is i64.shl or i64.shr_u), leaving the operand in place.
func (w *writer) chargeOperand(b []byte, scratch uint32, op byte, shift uint) []byte {
	b = wasmbin.AppendU32(append(b, opLocalTee), scratch)
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.fuel)
	b = wasmbin.AppendU32(append(b, opLocalGet), scratch)
	b = append(b, opI64ExtU, opI64Const, byte(shift), op, opI64Sub, opGlobalSet)
	b = wasmbin.AppendU32(b, w.fuel)
	return w.checkFuel(b)
}

func (w *writer) subFuel(b []byte, cost int64) []byte {
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.fuel)
	b = wasmbin.AppendS64(append(b, opI64Const), cost)
	return wasmbin.AppendU32(append(b, opI64Sub, opGlobalSet), w.fuel)
}

func (w *writer) checkFuel(b []byte) []byte {
	b = wasmbin.AppendU32(append(b, opGlobalGet), w.fuel)
	b = append(b, opI64Const, 0, opI64LtS)
	return w.ifCheckin(b)
}

// ifCheckin consumes an i32 condition: if set, call the check-in.
func (w *writer) ifCheckin(b []byte) []byte {
	b = append(b, opIf, blockEmpty, opCall)
	return append(wasmbin.AppendU32(b, w.checkin), opEnd)
}
