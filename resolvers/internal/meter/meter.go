// Package meter rewrites a resolver module so that it cannot run, recurse
// or grow its tables without the host noticing: it makes the module count
// its own work ("fuel") and stack, and call the host back ("check in")
// whenever its fuel runs out or its stack budget is spent. The host decides
// at the check-in whether the call may go on (its deadline, its caller) and
// refills the fuel, or stops it with a trap.
//
// # What is inserted
//
//   - a function import, [HostModule].[CheckinName] () -> (), the
//     check-in;
//   - two mutable globals, exported as [FuelExport] (i64) and [StackExport]
//     (i32), which the host sets before every call into the module;
//   - at every function entry: fuel -= the cost of the function's code
//     outside loops, stack -= the function's frame estimate, and a check-in
//     if either went negative; the body is wrapped in a block so that every
//     way out of the function (end, branch to the function's label, return)
//     gives the frame back;
//   - at every loop header: fuel -= the cost of the loop's body outside
//     nested loops, and a check-in if it went negative;
//   - before a call to an imported (host) function: fuel -= [Costs].HostCall;
//   - before memory.grow and the bulk memory and table operations: fuel -=
//     a share of their length operand, since they run in the host for a
//     time proportional to it.
//
// Cost is charged per instruction, statically: each instruction of a
// function is charged once per entry into its innermost enclosing loop (or
// into the function, outside loops), which is at least as often as it can
// run, since within one iteration control only moves forward. So a guest
// cannot execute more than the fuel given plus one region's instructions
// between two check-ins, whatever its control flow.
//
// # What else changes
//
//   - Function indexes move up by one from the first defined function (the
//     check-in is the last function import); calls, ref.func, exports,
//     element segments, global initializers and function names follow.
//   - An imported function referenced from a table (element segments,
//     ref.func, globals) is replaced there by a small defined wrapper that
//     charges [Costs].HostCall and calls it, so an indirect call cannot
//     skip the charge.
//   - The start function is no longer started by instantiation: it is
//     exported as [StartExport] and the host calls it, under a deadline,
//     right after instantiating.
//   - Every table gets a maximum of at most [Config].MaxTableElements.
//   - Custom sections are dropped, except the module and function names
//     (DWARF and source maps would not match the rewritten code).
//
// The package is pure: it never panics on malformed input and refuses what
// it cannot rewrite with certainty (see [wasmbin.DecodeInstr]).
package meter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// Names of what the instrumented module imports from and exports to the
// host.
const (
	HostModule  = "concord:meter"
	CheckinName = "checkin"
	FuelExport  = "concord:fuel"
	StackExport = "concord:stack"
	StartExport = "concord:start"
	// ReservedPrefix starts every name above; a module may not export a
	// name with it.
	ReservedPrefix = "concord:"
)

// Costs are the fuel and stack charges.
type Costs struct {
	// HostCall is the fuel a call to an imported function costs.
	HostCall int64
	// MemoryByteShift: memory.fill, memory.copy and memory.init of n bytes
	// cost n >> MemoryByteShift; memory.grow of n pages costs
	// n << (16 - MemoryByteShift).
	MemoryByteShift uint
	// TableElemShift: table.fill, table.copy, table.init and table.grow of
	// n elements cost n >> TableElemShift.
	TableElemShift uint
	// FrameBase and FrameSlot estimate a call frame's stack use:
	// FrameBase + FrameSlot × (parameters + locals).
	FrameBase, FrameSlot int32
}

// DefaultCosts are the costs the resolver runtime uses.
var DefaultCosts = Costs{
	HostCall:        1 << 12,
	MemoryByteShift: 4,
	TableElemShift:  1,
	FrameBase:       64,
	FrameSlot:       16,
}

// Config configures [Instrument].
type Config struct {
	Costs Costs
	// MaxTableElements caps every table's maximum size.
	MaxTableElements uint32
}

// ErrUnsupported is wrapped by the errors of modules Instrument cannot
// rewrite (an instruction or an encoding it does not know, a table too
// large); other errors are malformed input.
var ErrUnsupported = errors.New("meter: unsupported module")

// Instrument rewrites m (decoded by [wasmbin.Decode]) and returns the new
// module's bytes.
func Instrument(m *wasmbin.Module, cfg Config) ([]byte, error) {
	for _, e := range m.Exports {
		if strings.HasPrefix(e.Name, ReservedPrefix) {
			return nil, fmt.Errorf("%w: export %q: names starting with %q are reserved", ErrUnsupported, e.Name, ReservedPrefix)
		}
	}
	for _, imp := range m.Imports {
		if imp.Module == HostModule {
			return nil, fmt.Errorf("%w: import from %q, a module reserved to the host", ErrUnsupported, HostModule)
		}
	}
	w := &writer{m: m, cfg: cfg, nImported: uint32(m.ImportedFuncs()), wrappers: map[uint32]uint32{}}
	if err := w.plan(); err != nil {
		return nil, err
	}
	return w.module()
}

// writer holds the state of one rewriting.
type writer struct {
	m         *wasmbin.Module
	cfg       Config
	nImported uint32 // imported functions of the original module

	types     []wasmbin.FuncType // the original types, then the added ones
	checkinTy uint32
	checkin   uint32 // function index of the check-in
	fuel      uint32 // global indexes
	stack     uint32

	wrapped  []uint32          // imported functions that get a wrapper, in order
	wrappers map[uint32]uint32 // imported function → its wrapper's index
}

// plan decides the new indexes: the check-in, the globals, the wrappers.
func (w *writer) plan() error {
	m := w.m
	w.types = append([]wasmbin.FuncType(nil), m.Types...)
	w.checkinTy = w.typeIndex(wasmbin.FuncType{})
	w.checkin = w.nImported
	nGlobals := uint32(m.ImportedGlobals() + m.Globals)
	w.fuel, w.stack = nGlobals, nGlobals+1

	// Imported functions referenced as values get a wrapper.
	need := func(i uint32) {
		if i < w.nImported {
			if _, ok := w.wrappers[i]; !ok {
				w.wrappers[i] = 0
				w.wrapped = append(w.wrapped, i)
			}
		}
	}
	if s, ok := m.Section(wasmbin.SectionElement); ok {
		if err := wasmbin.ElementFuncs(s.Body, need); err != nil {
			return err
		}
	}
	if s, ok := m.Section(wasmbin.SectionGlobal); ok {
		if err := wasmbin.GlobalFuncs(s.Body, need); err != nil {
			return err
		}
	}
	for i := range m.Funcs {
		err := wasmbin.Walk(m.Funcs[i].Code, func(in wasmbin.Instr, _ int) error {
			if in.Op == wasmbin.OpRefFunc {
				need(in.Index)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("function %d: %w", int(w.nImported)+i, unsupported(err))
		}
	}
	first := w.nImported + 1 + uint32(len(m.Funcs))
	for k, i := range w.wrapped {
		w.wrappers[i] = first + uint32(k)
		if _, ok := m.FuncType(i); !ok {
			return fmt.Errorf("%w: import %d has no type", wasmbin.ErrMalformed, i)
		}
	}
	return nil
}

// unsupported marks decoding errors as ErrUnsupported, keeping the
// message.
func unsupported(err error) error {
	if errors.Is(err, wasmbin.ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnsupported, err)
}

// call maps the target of a direct call (and of an export, the start
// function): imports keep their index, defined functions move up by one.
func (w *writer) call(i uint32) uint32 {
	if i < w.nImported {
		return i
	}
	return i + 1
}

// ref maps a function referenced as a value: an import becomes its
// wrapper.
func (w *writer) ref(i uint32) uint32 {
	if i < w.nImported {
		return w.wrappers[i]
	}
	return i + 1
}

// typeIndex returns the index of t, adding it if it is new.
func (w *writer) typeIndex(t wasmbin.FuncType) uint32 {
	for i, u := range w.types {
		if u.Equal(t) {
			return uint32(i)
		}
	}
	w.types = append(w.types, t)
	return uint32(len(w.types) - 1)
}

// module assembles the rewritten module.
func (w *writer) module() ([]byte, error) {
	m := w.m
	code, err := w.codeSection()
	if err != nil {
		return nil, err
	}
	out := wasmbin.Header()
	emitted := map[byte]bool{}
	emit := func(id byte) error {
		if emitted[id] {
			return nil
		}
		emitted[id] = true
		body, keep, err := w.section(id, code)
		if err != nil {
			return err
		}
		if keep {
			out = wasmbin.AppendSection(out, id, body)
		}
		return nil
	}
	for _, id := range []byte{
		wasmbin.SectionType, wasmbin.SectionImport, wasmbin.SectionFunction, wasmbin.SectionTable,
		wasmbin.SectionMemory, wasmbin.SectionGlobal, wasmbin.SectionExport, wasmbin.SectionStart,
		wasmbin.SectionElement, wasmbin.SectionDataCount, wasmbin.SectionCode, wasmbin.SectionData,
	} {
		if err := emit(id); err != nil {
			return nil, err
		}
	}
	for _, s := range m.Sections {
		if s.ID == wasmbin.SectionCustom && s.Name == "name" {
			if names, err := wasmbin.RewriteFunctionNames(s.Body, w.call); err == nil {
				out = wasmbin.AppendCustomSection(out, "name", names)
			}
			break
		}
	}
	return out, nil
}

// section returns the new body of section id, and whether to emit it.
func (w *writer) section(id byte, code []byte) ([]byte, bool, error) {
	m := w.m
	old, had := m.Section(id)
	switch id {
	case wasmbin.SectionType:
		b := wasmbin.AppendU32(nil, uint32(len(w.types)))
		for _, t := range w.types {
			b = appendFuncType(b, t)
		}
		return b, true, nil
	case wasmbin.SectionImport:
		b := wasmbin.AppendU32(nil, uint32(len(m.Imports)+1))
		if had {
			b = append(b, skipCount(old.Body)...)
		}
		b = wasmbin.AppendName(b, HostModule)
		b = wasmbin.AppendName(b, CheckinName)
		b = append(b, byte(wasmbin.KindFunc))
		return wasmbin.AppendU32(b, w.checkinTy), true, nil
	case wasmbin.SectionFunction:
		n := len(m.Funcs) + len(w.wrapped)
		b := wasmbin.AppendU32(nil, uint32(n))
		for _, f := range m.Funcs {
			b = wasmbin.AppendU32(b, f.Type)
		}
		for _, i := range w.wrapped {
			b = wasmbin.AppendU32(b, w.importType(i))
		}
		return b, n > 0, nil
	case wasmbin.SectionTable:
		if !had {
			return nil, false, nil
		}
		tables, err := wasmbin.ParseTables(old.Body)
		if err != nil {
			return nil, false, unsupported(err)
		}
		for i := range tables {
			t := &tables[i]
			if t.Min > w.cfg.MaxTableElements {
				return nil, false, fmt.Errorf("%w: table %d starts with %d elements, more than the %d allowed", ErrUnsupported, i, t.Min, w.cfg.MaxTableElements)
			}
			if !t.HasMax || t.Max > w.cfg.MaxTableElements {
				t.Max, t.HasMax = w.cfg.MaxTableElements, true
			}
		}
		return wasmbin.AppendTables(nil, tables), true, nil
	case wasmbin.SectionGlobal:
		body := old.Body
		b, err := wasmbin.RewriteGlobals(body, w.ref, [][]byte{
			{byte(wasmbin.I64), 1, 0x42, 0, 0x0b}, // fuel: mutable i64 = 0
			{byte(wasmbin.I32), 1, 0x41, 0, 0x0b}, // stack: mutable i32 = 0
		})
		return b, true, err
	case wasmbin.SectionExport:
		n := len(m.Exports) + 2
		if m.Start >= 0 {
			n++
		}
		b := wasmbin.AppendU32(nil, uint32(n))
		for _, e := range m.Exports {
			idx := e.Index
			if e.Kind == wasmbin.KindFunc {
				idx = w.call(idx)
			}
			b = wasmbin.AppendU32(append(wasmbin.AppendName(b, e.Name), byte(e.Kind)), idx)
		}
		b = wasmbin.AppendU32(append(wasmbin.AppendName(b, FuelExport), byte(wasmbin.KindGlobal)), w.fuel)
		b = wasmbin.AppendU32(append(wasmbin.AppendName(b, StackExport), byte(wasmbin.KindGlobal)), w.stack)
		if m.Start >= 0 {
			b = wasmbin.AppendU32(append(wasmbin.AppendName(b, StartExport), byte(wasmbin.KindFunc)), w.call(uint32(m.Start)))
		}
		return b, true, nil
	case wasmbin.SectionStart:
		return nil, false, nil // exported instead; the host calls it
	case wasmbin.SectionElement:
		if !had {
			return nil, false, nil
		}
		b, err := wasmbin.RewriteElements(old.Body, w.ref)
		return b, true, err
	case wasmbin.SectionCode:
		return code, len(m.Funcs)+len(w.wrapped) > 0, nil
	}
	return old.Body, had, nil // memory, data count, data
}

func (w *writer) importType(i uint32) uint32 {
	for _, imp := range w.m.Imports {
		if imp.Kind != wasmbin.KindFunc {
			continue
		}
		if i == 0 {
			return imp.Index
		}
		i--
	}
	return 0 // unreachable: plan checked every wrapped import's type
}

// skipCount returns a vector's body after its element count.
func skipCount(b []byte) []byte {
	for i, c := range b {
		if c&0x80 == 0 {
			return b[i+1:]
		}
	}
	return nil
}

func appendFuncType(b []byte, t wasmbin.FuncType) []byte {
	b = append(b, 0x60)
	for _, list := range [][]wasmbin.ValType{t.Params, t.Results} {
		b = wasmbin.AppendU32(b, uint32(len(list)))
		for _, v := range list {
			b = append(b, byte(v))
		}
	}
	return b
}
