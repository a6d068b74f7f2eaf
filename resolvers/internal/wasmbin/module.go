package wasmbin

import (
	"bytes"
	"fmt"
)

// Section ids.
const (
	SectionCustom    = 0
	SectionType      = 1
	SectionImport    = 2
	SectionFunction  = 3
	SectionTable     = 4
	SectionMemory    = 5
	SectionGlobal    = 6
	SectionExport    = 7
	SectionStart     = 8
	SectionElement   = 9
	SectionCode      = 10
	SectionData      = 11
	SectionDataCount = 12
)

// sectionOrder is the position of each known section id in a module.
var sectionOrder = map[byte]int{
	SectionType: 1, SectionImport: 2, SectionFunction: 3, SectionTable: 4,
	SectionMemory: 5, SectionGlobal: 6, SectionExport: 7, SectionStart: 8,
	SectionElement: 9, SectionDataCount: 10, SectionCode: 11, SectionData: 12,
}

// Section is one section of a module, as found.
type Section struct {
	ID byte
	// Name is a custom section's name.
	Name string
	// Body is the section's contents after its id and size (and, for a
	// custom section, after its name).
	Body []byte
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// Equal reports whether t and u are the same signature.
func (t FuncType) Equal(u FuncType) bool {
	return bytes.Equal(valBytes(t.Params), valBytes(u.Params)) && bytes.Equal(valBytes(t.Results), valBytes(u.Results))
}

func valBytes(ts []ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

// LocalGroup is one entry of a function's local declarations: Count locals
// of type Type.
type LocalGroup struct {
	Count uint32
	Type  ValType
}

// Func is a function defined by the module.
type Func struct {
	// Type indexes Module.Types.
	Type   uint32
	Locals []LocalGroup
	// NumLocals is the number of locals declared (parameters excluded).
	NumLocals uint64
	// Body is the function's whole entry in the code section; Code is its
	// instructions, after the locals, up to and including the final end.
	Body, Code []byte
}

// Module is a decoded core module: its sections as found, and what the
// resolver sandbox reads or rewrites. Nothing is validated beyond what
// decoding needs; wazero validates the rest.
type Module struct {
	Sections []Section
	Types    []FuncType
	Imports  []Import
	// Funcs are the functions the module defines, in index order after the
	// imported ones.
	Funcs   []Func
	Exports []Export
	// Globals is the number of globals the module defines.
	Globals int
	// Start is the index of the start function, or -1.
	Start int64
}

// ImportedFuncs returns the number of imported functions: the index of the
// first defined function.
func (m *Module) ImportedFuncs() int {
	n := 0
	for _, imp := range m.Imports {
		if imp.Kind == KindFunc {
			n++
		}
	}
	return n
}

// ImportedGlobals returns the number of imported globals.
func (m *Module) ImportedGlobals() int {
	n := 0
	for _, imp := range m.Imports {
		if imp.Kind == KindGlobal {
			n++
		}
	}
	return n
}

// FuncType returns the signature of function index i (imported or
// defined), and false if there is no such function or type.
func (m *Module) FuncType(i uint32) (FuncType, bool) {
	typ := uint32(0)
	for _, imp := range m.Imports {
		if imp.Kind != KindFunc {
			continue
		}
		if i == 0 {
			typ = imp.Index
			return m.TypeAt(typ)
		}
		i--
	}
	if int(i) >= len(m.Funcs) {
		return FuncType{}, false
	}
	return m.TypeAt(m.Funcs[i].Type)
}

// TypeAt returns type i, and false if there is none.
func (m *Module) TypeAt(i uint32) (FuncType, bool) {
	if int(i) >= len(m.Types) {
		return FuncType{}, false
	}
	return m.Types[i], true
}

// Decode reads a core module: the header, every section's bounds, and the
// type, import, function, global (count), export, start and code sections.
func Decode(b []byte) (*Module, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], magic) {
		return nil, ErrNotWasm
	}
	switch {
	case bytes.Equal(b[4:8], componentTail):
		return nil, ErrComponent
	case !bytes.Equal(b[4:8], coreVersion):
		return nil, fmt.Errorf("%w % x", ErrVersion, b[4:8])
	}
	m := &Module{Start: -1}
	var funcTypes []uint32
	var code [][]byte
	hasCode := false
	last := 0
	r := reader{b: b, off: 8}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		body := r.take(size)
		if r.err != nil {
			return nil, r.err
		}
		sr := reader{b: body}
		s := Section{ID: id, Body: body}
		if id == SectionCustom {
			s.Name = sr.name()
			s.Body = body[sr.off:]
			if sr.err != nil {
				return nil, sr.err
			}
			m.Sections = append(m.Sections, s)
			continue
		}
		pos, known := sectionOrder[id]
		switch {
		case !known:
			return nil, fmt.Errorf("%w: unsupported section %d", ErrMalformed, id)
		case pos <= last:
			return nil, fmt.Errorf("%w: section %d out of order or repeated", ErrMalformed, id)
		}
		last = pos
		m.Sections = append(m.Sections, s)
		switch id {
		case SectionType:
			m.Types = parseTypes(&sr)
		case SectionImport:
			m.Imports = parseImports(&sr)
		case SectionFunction:
			n := sr.count(1)
			funcTypes = make([]uint32, 0, n)
			for range n {
				funcTypes = append(funcTypes, uint32(sr.u32()))
			}
		case SectionGlobal:
			m.Globals = sr.count(3) // type, mutability, at least an end
			sr.off = len(sr.b)      // the globals themselves are not read here
		case SectionExport:
			m.Exports = parseExports(&sr)
		case SectionStart:
			m.Start = int64(sr.u32())
		case SectionCode:
			hasCode = true
			n := sr.count(2) // size, at least an end
			code = make([][]byte, 0, n)
			for range n {
				code = append(code, sr.take(sr.u32()))
			}
		default:
			continue // tables, memories, elements, data count, data: kept as found
		}
		if sr.err == nil && sr.off != len(sr.b) {
			sr.fail("section %d has %d trailing bytes", id, len(sr.b)-sr.off)
		}
		if sr.err != nil {
			return nil, sr.err
		}
	}
	if len(code) != len(funcTypes) || (len(funcTypes) > 0 && !hasCode) {
		return nil, fmt.Errorf("%w: %d functions declared, %d bodies", ErrMalformed, len(funcTypes), len(code))
	}
	m.Funcs = make([]Func, len(code))
	for i, body := range code {
		f, err := parseFunc(body)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", m.ImportedFuncs()+i, err)
		}
		f.Type = funcTypes[i]
		m.Funcs[i] = f
	}
	return m, nil
}

func parseTypes(r *reader) []FuncType {
	n := r.count(3) // form, params, results
	out := make([]FuncType, 0, n)
	for range n {
		if form := r.byte(); form != 0x60 && r.err == nil {
			r.fail("unsupported type form 0x%02x", form)
		}
		var t FuncType
		for _, list := range []*[]ValType{&t.Params, &t.Results} {
			k := r.count(1)
			*list = make([]ValType, 0, k)
			for range k {
				*list = append(*list, r.valType())
			}
		}
		if r.err != nil {
			return nil
		}
		out = append(out, t)
	}
	return out
}

func parseFunc(body []byte) (Func, error) {
	r := reader{b: body}
	f := Func{Body: body}
	n := r.count(2) // count, type
	f.Locals = make([]LocalGroup, 0, n)
	for range n {
		g := LocalGroup{Count: uint32(r.u32()), Type: r.valType()}
		f.NumLocals += uint64(g.Count)
		f.Locals = append(f.Locals, g)
	}
	if r.err != nil {
		return Func{}, r.err
	}
	f.Code = body[r.off:]
	return f, nil
}

// Section returns the first section with id, if any.
func (m *Module) Section(id byte) (Section, bool) {
	for _, s := range m.Sections {
		if s.ID == id {
			return s, true
		}
	}
	return Section{}, false
}
