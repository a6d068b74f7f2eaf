// Package wasmbin reads and re-encodes the parts of a WebAssembly binary
// the resolver runtime needs: the import and export sections (to check the
// resolver ABI on things wazero's CompiledModule does not report: exported
// globals, imported tables, globals and tags), the function signatures and
// bodies (to check a module's shape before compiling it), and an
// instruction decoder that mirrors wazero's (for the sandbox's rewriting,
// package meter). Full validation is left to wazero.
//
// The package is pure and never panics on malformed input.
package wasmbin

import (
	"errors"
	"fmt"
)

// Kind is the kind of an import or export.
type Kind byte

// Kinds of the WebAssembly binary format.
const (
	KindFunc   Kind = 0
	KindTable  Kind = 1
	KindMemory Kind = 2
	KindGlobal Kind = 3
	KindTag    Kind = 4
)

// String returns the text-format keyword of k.
func (k Kind) String() string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Import is one entry of the import section.
type Import struct {
	Module, Name string
	Kind         Kind
	// Index is a function import's type index (0 for other kinds).
	Index uint32
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  Kind
	Index uint32
}

// Sections holds what Parse extracts.
type Sections struct {
	Imports []Import
	Exports []Export
}

// Errors returned by [Parse].
var (
	ErrNotWasm    = errors.New("wasmbin: not WebAssembly (missing \\0asm magic)")
	ErrComponent  = errors.New("wasmbin: a WebAssembly component, not a core module")
	ErrVersion    = errors.New("wasmbin: unsupported WebAssembly version")
	ErrMalformed  = errors.New("wasmbin: malformed binary")
	magic         = []byte("\x00asm")
	coreVersion   = []byte{1, 0, 0, 0}
	componentTail = []byte{0x0d, 0x00, 0x01, 0x00} // version 0xd, layer 1
)

// Parse reads the header, the import section and the export section of b
// (with [Decode], which also checks the other sections' framing).
func Parse(b []byte) (Sections, error) {
	m, err := Decode(b)
	if err != nil {
		return Sections{}, err
	}
	return Sections{Imports: m.Imports, Exports: m.Exports}, nil
}

func parseImports(r *reader) []Import {
	n := r.count(4) // module name, name, kind, index: at least 4 bytes
	out := make([]Import, 0, n)
	for range n {
		imp := Import{Module: r.name(), Name: r.name(), Kind: Kind(r.byte())}
		switch imp.Kind {
		case KindFunc:
			imp.Index = uint32(r.u32())
		case KindTable:
			r.byte() // reference type
			r.limits()
		case KindMemory:
			r.limits()
		case KindGlobal:
			r.byte() // value type
			r.byte() // mutability
		case KindTag:
			r.byte() // attribute
			r.u32()  // type index
		default:
			r.fail("import %q.%q has unknown kind %d", imp.Module, imp.Name, imp.Kind)
		}
		if r.err != nil {
			return nil
		}
		out = append(out, imp)
	}
	return out
}

func parseExports(r *reader) []Export {
	n := r.count(3) // name, kind, index: at least 3 bytes
	out := make([]Export, 0, n)
	for range n {
		e := Export{Name: r.name(), Kind: Kind(r.byte()), Index: uint32(r.u32())}
		if r.err != nil {
			return nil
		}
		if e.Kind > KindTag {
			r.fail("export %q has unknown kind %d", e.Name, e.Kind)
			return nil
		}
		out = append(out, e)
	}
	return out
}

// reader decodes LEB128 and vectors, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("unexpected end at offset %d", r.off)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// leb reads an unsigned LEB128 value of at most bits bits.
func (r *reader) leb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift >= bits {
			r.fail("LEB128 longer than %d bits", bits)
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if bits < 64 && v>>bits != 0 {
				r.fail("LEB128 value overflows %d bits", bits)
				return 0
			}
			return v
		}
	}
}

func (r *reader) u32() int { return int(r.leb(32)) }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.fail("%d bytes needed at offset %d, %d left", n, r.off, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// count reads a vector length and checks it against the bytes left, given
// the minimum encoded size of one element, so a forged count cannot make the
// caller allocate.
func (r *reader) count(minElem int) int {
	n := r.u32()
	if r.err == nil && n > (len(r.b)-r.off)/minElem {
		r.fail("vector of %d elements cannot fit in %d bytes", n, len(r.b)-r.off)
		return 0
	}
	return n
}

func (r *reader) name() string { return string(r.take(r.u32())) }

func (r *reader) limits() {
	flags := r.byte()
	bits := uint(32)
	if flags&0x04 != 0 { // memory64
		bits = 64
	}
	r.leb(bits) // min
	if flags&0x01 != 0 {
		r.leb(bits) // max
	}
}
