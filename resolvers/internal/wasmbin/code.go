package wasmbin

import "fmt"

// Op classifies an instruction, as far as the sandbox needs: structure,
// calls, function references, and the instructions whose cost depends on an
// operand (bulk memory and table operations, memory.grow). Every other
// instruction is OpOther.
type Op uint8

// Instruction classes.
const (
	OpOther Op = iota
	OpBlock
	OpLoop
	OpIf
	OpElse
	OpEnd
	OpReturn
	OpCall         // Index: the function called
	OpCallIndirect // through a table
	OpRefFunc      // Index: the function referenced
	OpMemoryGrow   // operand: pages
	OpMemoryBulk   // memory.fill, memory.copy, memory.init: the length in bytes is the top operand
	OpTableBulk    // table.fill, table.copy, table.init, table.grow: the count is the top operand
	OpGlobal       // global.get, global.set; Index: the global
	OpLocal        // local.get, local.set, local.tee; Index: the local
)

// Instr is one decoded instruction of a function body.
type Instr struct {
	Op Op
	// Start and End delimit the instruction's bytes in the body.
	Start, End int
	// Index is the function index of OpCall and OpRefFunc, the global of
	// OpGlobal, the local of OpLocal. For OpCall and OpRefFunc, IndexAt is
	// the offset of its LEB128 encoding (which runs to End).
	Index   uint32
	IndexAt int
	// Type is the type index of call_indirect and of a block type that is
	// one, else -1.
	Type int64
	// Labels counts br_table's labels, the default included.
	Labels int
}

// DecodeInstr decodes the instruction at b[off:].
//
// It accepts exactly the instructions of WebAssembly 2.0 (MVP, sign
// extension, non-trapping conversions, multi-value, bulk memory, reference
// types and 128-bit SIMD), the feature set the resolver runtime enables, and
// it decodes their immediates the way wazero does where wazero departs from
// the specification (the SIMD sub-opcode is one byte; reserved memory
// indexes are one zero byte). Anything else is an error: the sandbox must
// see every instruction wazero will compile, so an instruction it cannot
// decode the same way refuses the module rather than risk a desynchronised
// reading.
func DecodeInstr(b []byte, off int) (Instr, error) {
	r := reader{b: b, off: off}
	in := Instr{Start: off, Type: -1}
	op := r.byte()
	switch {
	case op == 0x00, op == 0x01, op == 0x1a, op == 0x1b, op == 0xd1,
		op >= 0x45 && op <= 0xc4: // unreachable, nop, drop, select, ref.is_null, numeric
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		in.Op = [...]Op{OpBlock, OpLoop, OpIf}[op-0x02]
		in.Type = r.blockType()
	case op == 0x05:
		in.Op = OpElse
	case op == 0x0b:
		in.Op = OpEnd
	case op == 0x0c || op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		n := r.count(1)
		for range n + 1 {
			r.u32()
		}
		in.Labels = n + 1
	case op == 0x0f:
		in.Op = OpReturn
	case op == 0x10: // call
		in.Op, in.IndexAt = OpCall, r.off
		in.Index = uint32(r.u32())
	case op == 0x11: // call_indirect type table
		in.Op = OpCallIndirect
		in.Type = int64(r.u32())
		r.u32()
	case op == 0x1c: // select t*: wazero takes exactly one type, as one byte
		if n := r.byte(); n != 1 && r.err == nil {
			r.fail("select with %d types", n)
		}
		r.valType()
	case op >= 0x20 && op <= 0x22: // local.get/set/tee
		in.Op = OpLocal
		in.Index = uint32(r.u32())
	case op == 0x23 || op == 0x24: // global.get/set
		in.Op = OpGlobal
		in.Index = uint32(r.u32())
	case op == 0x25 || op == 0x26: // table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.zeroByte()
		if op == 0x40 {
			in.Op = OpMemoryGrow
		}
	case op == 0x41:
		r.sleb(32)
	case op == 0x42:
		r.sleb(64)
	case op == 0x43:
		r.take(4)
	case op == 0x44:
		r.take(8)
	case op == 0xd0: // ref.null: wazero reads one byte
		switch t := r.byte(); t {
		case 0x70, 0x6f:
		default:
			r.fail("ref.null of type 0x%02x", t)
		}
	case op == 0xd2: // ref.func
		in.Op, in.IndexAt = OpRefFunc, r.off
		in.Index = uint32(r.u32())
	case op == 0xfc:
		in.Op = r.misc()
	case op == 0xfd:
		r.simd()
	default:
		if r.err == nil {
			r.fail("unsupported instruction 0x%02x at offset %d", op, off)
		}
	}
	in.End = r.off
	return in, r.err
}

// misc decodes the rest of a 0xfc instruction.
func (r *reader) misc() Op {
	sub := r.leb(32)
	switch {
	case r.err != nil:
		return OpOther
	case sub <= 7: // saturating truncations
		return OpOther
	case sub == 8: // memory.init data mem
		r.u32()
		r.zeroByte()
	case sub == 9: // data.drop
		r.u32()
		return OpOther
	case sub == 10: // memory.copy mem mem
		r.zeroByte()
		r.zeroByte()
	case sub == 11: // memory.fill mem
		r.zeroByte()
	case sub == 12 || sub == 14: // table.init elem table, table.copy table table
		r.u32()
		r.u32()
		return OpTableBulk
	case sub == 13: // elem.drop
		r.u32()
		return OpOther
	case sub == 15 || sub == 17: // table.grow, table.fill
		r.u32()
		return OpTableBulk
	case sub == 16: // table.size
		r.u32()
		return OpOther
	default:
		r.fail("unsupported instruction 0xfc %d", sub)
		return OpOther
	}
	return OpMemoryBulk
}

// simd decodes the rest of a 0xfd instruction. wazero reads the sub-opcode
// as one byte, where the specification has a LEB128: the two agree only on
// sub-opcodes below 0x80 and on the two-byte encodings "x 0x01" of those
// from 0x80 to 0xff (wazero then reads the 0x01 as a nop). Every other
// encoding is refused.
func (r *reader) simd() {
	sub := r.byte()
	if r.err != nil {
		return
	}
	if sub >= 0x80 {
		if next := r.byte(); next != 0x01 && r.err == nil {
			r.fail("SIMD instruction 0xfd 0x%02x 0x%02x: unsupported encoding", sub, next)
		}
		return // no SIMD instruction from 0x80 on has immediates
	}
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, store, load zero
		r.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		r.take(16)
	case sub >= 0x15 && sub <= 0x22: // extract and replace lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load and store lane
		r.memarg()
		r.byte()
	}
}

// blockType reads a block type: empty, a value type, or a type index
// (an s33), which it returns (else -1).
func (r *reader) blockType() int64 {
	v := r.sleb(33)
	switch {
	case r.err != nil:
	case v >= 0:
		return v
	case v == -64, v == -1, v == -2, v == -3, v == -4, v == -5, v == -16, v == -17: // empty, i32 … v128, funcref, externref
	default:
		r.fail("unsupported block type %d", v)
	}
	return -1
}

// memarg reads an alignment and an offset. (wazero refuses an alignment
// with the multi-memory bit.)
func (r *reader) memarg() {
	r.u32()
	r.u32()
}

// zeroByte reads a reserved memory index: wazero wants one zero byte.
func (r *reader) zeroByte() {
	if b := r.byte(); b != 0 && r.err == nil {
		r.fail("reserved byte 0x%02x, want 0", b)
	}
}

func (r *reader) valType() ValType {
	t := r.byte()
	if r.err == nil && !isValType(t) {
		r.fail("unsupported value type 0x%02x", t)
	}
	return ValType(t)
}

// sleb reads a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits uint) int64 {
	var v int64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift >= bits {
			r.fail("signed LEB128 longer than %d bits", bits)
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

// ValType is a value type of WebAssembly 2.0.
type ValType byte

// Value types.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

func isValType(b byte) bool {
	switch ValType(b) {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// Walk decodes the instructions of a function body (after its locals) and
// calls fn for each. It checks that blocks are balanced and that the body
// ends with the end of the function, at its last byte.
func Walk(code []byte, fn func(in Instr, depth int) error) error {
	depth := 0 // open blocks, the function's own included
	for off := 0; off < len(code); {
		in, err := DecodeInstr(code, off)
		if err != nil {
			return err
		}
		switch in.Op {
		case OpBlock, OpLoop, OpIf:
			depth++
		case OpEnd:
			depth--
		}
		if err := fn(in, depth); err != nil {
			return err
		}
		off = in.End
		if depth < 0 {
			if off != len(code) {
				return fmt.Errorf("%w: %d bytes after the end of the function", ErrMalformed, len(code)-off)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: the function body ends inside a block", ErrMalformed)
}
