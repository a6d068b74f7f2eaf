package wasmbin

import "fmt"

// AppendU32 appends v as an unsigned LEB128.
func AppendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendS64 appends v as a signed LEB128.
func AppendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendName appends a name (length and bytes).
func AppendName(b []byte, name string) []byte {
	return append(AppendU32(b, uint32(len(name))), name...)
}

// AppendSection appends a section: id, size, body.
func AppendSection(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	b = AppendU32(b, uint32(len(body)))
	return append(b, body...)
}

// AppendCustomSection appends a custom section.
func AppendCustomSection(b []byte, name string, body []byte) []byte {
	inner := AppendName(nil, name)
	return AppendSection(b, SectionCustom, append(inner, body...))
}

// Header is the preamble of a core module.
func Header() []byte { return append(append([]byte{}, magic...), coreVersion...) }

// FuncMap maps function indexes.
type FuncMap func(uint32) uint32

// rewriteExpr copies the constant expression at r (up to and including its
// end) to out, mapping ref.func indexes.
func rewriteExpr(r *reader, out []byte, refs FuncMap) []byte {
	for r.err == nil {
		in, err := DecodeInstr(r.b, r.off)
		if err != nil {
			r.err = err
			return out
		}
		if in.Op == OpRefFunc {
			out = append(out, r.b[in.Start:in.IndexAt]...)
			out = AppendU32(out, refs(in.Index))
		} else {
			out = append(out, r.b[in.Start:in.End]...)
		}
		r.off = in.End
		switch in.Op {
		case OpEnd:
			return out
		case OpBlock, OpLoop, OpIf:
			r.fail("a constant expression with a block")
		}
	}
	return out
}

// RewriteGlobals copies a global section body, mapping the function
// indexes in its initializers, and appends extra (encoded globals).
func RewriteGlobals(body []byte, refs FuncMap, extra [][]byte) ([]byte, error) {
	r := reader{b: body}
	n := 0
	if len(body) > 0 {
		n = r.count(3)
	}
	out := AppendU32(nil, uint32(n+len(extra)))
	for range n {
		out = append(out, r.take(2)...) // type, mutability
		out = rewriteExpr(&r, out, refs)
	}
	if r.err == nil && r.off != len(body) {
		r.fail("global section has %d trailing bytes", len(body)-r.off)
	}
	for _, g := range extra {
		out = append(out, g...)
	}
	return out, r.err
}

// RewriteElements copies an element section body, mapping every function
// index it holds (in index vectors and in ref.func expressions).
func RewriteElements(body []byte, refs FuncMap) ([]byte, error) {
	r := reader{b: body}
	n := r.count(2)
	out := AppendU32(nil, uint32(n))
	for range n {
		flags := r.u32()
		out = AppendU32(out, uint32(flags))
		if flags > 7 {
			r.fail("element segment with flags %d", flags)
			break
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			out = AppendU32(out, uint32(r.u32()))
		}
		if flags&1 == 0 { // active: offset
			out = rewriteExpr(&r, out, refs)
		}
		if flags&3 != 0 { // element kind or reference type
			out = append(out, r.byte())
		}
		k := r.count(1)
		out = AppendU32(out, uint32(k))
		for range k {
			if flags&4 != 0 {
				out = rewriteExpr(&r, out, refs)
			} else {
				out = AppendU32(out, refs(uint32(r.u32())))
			}
		}
		if r.err != nil {
			break
		}
	}
	if r.err == nil && r.off != len(body) {
		r.fail("element section has %d trailing bytes", len(body)-r.off)
	}
	return out, r.err
}

// ElementFuncs calls fn for every function index an element section holds.
func ElementFuncs(body []byte, fn func(uint32)) error {
	_, err := RewriteElements(body, func(i uint32) uint32 { fn(i); return i })
	return err
}

// GlobalFuncs calls fn for every function index the global initializers of
// a global section reference.
func GlobalFuncs(body []byte, fn func(uint32)) error {
	_, err := RewriteGlobals(body, func(i uint32) uint32 { fn(i); return i }, nil)
	return err
}

// RewriteFunctionNames copies the "name" custom section, keeping the
// module name and the function names (with mapped indexes) and dropping
// the other subsections (local and label names would no longer match the
// rewritten code). A malformed section yields an error.
func RewriteFunctionNames(body []byte, funcs FuncMap) ([]byte, error) {
	r := reader{b: body}
	var out []byte
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		sub := r.take(r.u32())
		if r.err != nil {
			break
		}
		switch id {
		case 0:
			out = AppendSection(out, id, sub)
		case 1:
			sr := reader{b: sub}
			n := sr.count(2)
			names := AppendU32(nil, uint32(n))
			for range n {
				names = AppendU32(names, funcs(uint32(sr.u32())))
				names = AppendName(names, sr.name())
			}
			if sr.err != nil {
				return nil, sr.err
			}
			out = AppendSection(out, id, names)
		}
	}
	return out, r.err
}

// Table is one entry of the table section.
type Table struct {
	Type     ValType
	Min, Max uint32
	HasMax   bool
}

// ParseTables reads a table section body.
func ParseTables(body []byte) ([]Table, error) {
	r := reader{b: body}
	n := r.count(3)
	out := make([]Table, 0, n)
	for range n {
		t := Table{Type: ValType(r.byte())}
		if t.Type != FuncRef && t.Type != ExternRef && r.err == nil {
			r.fail("unsupported table type 0x%02x", byte(t.Type))
		}
		switch flags := r.byte(); {
		case r.err != nil:
		case flags == 0:
			t.Min = uint32(r.u32())
		case flags == 1:
			t.Min, t.Max, t.HasMax = uint32(r.u32()), uint32(r.u32()), true
		default:
			r.fail("unsupported table limits 0x%02x", flags)
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, t)
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%w: table section has %d trailing bytes", ErrMalformed, len(body)-r.off)
	}
	return out, nil
}

// AppendTables encodes a table section body.
func AppendTables(b []byte, tables []Table) []byte {
	b = AppendU32(b, uint32(len(tables)))
	for _, t := range tables {
		b = append(b, byte(t.Type))
		if t.HasMax {
			b = AppendU32(AppendU32(append(b, 1), t.Min), t.Max)
		} else {
			b = AppendU32(append(b, 0), t.Min)
		}
	}
	return b
}
