package wasmbin_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

// module is (module (import "concord" "log" (func (param i32 i32 i32)))
// (import "env" "mem" (memory 1)) (global (export "g") i32 (i32.const 0))
// (func (export "f"))), assembled by hand.
var module = []byte{
	0, 'a', 's', 'm', 1, 0, 0, 0,
	1, 10, 2, 0x60, 3, 0x7f, 0x7f, 0x7f, 0, 0x60, 0, 0, // types
	2, 26, 2, // imports
	7, 'c', 'o', 'n', 'c', 'o', 'r', 'd', 3, 'l', 'o', 'g', 0, 0,
	3, 'e', 'n', 'v', 3, 'm', 'e', 'm', 2, 0, 1,
	3, 2, 1, 1, // functions
	6, 6, 1, 0x7f, 0, 0x41, 0, 0x0b, // globals
	7, 9, 2, 1, 'g', 3, 0, 1, 'f', 0, 1, // exports
	10, 4, 1, 2, 0, 0x0b, // code
}

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := wasmbin.Parse(module)
	if err != nil {
		t.Fatal(err)
	}
	want := wasmbin.Sections{
		Imports: []wasmbin.Import{{Module: "concord", Name: "log", Kind: wasmbin.KindFunc}, {Module: "env", Name: "mem", Kind: wasmbin.KindMemory}},
		Exports: []wasmbin.Export{{Name: "g", Kind: wasmbin.KindGlobal}, {Name: "f", Kind: wasmbin.KindFunc, Index: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"text", []byte("(module)"), wasmbin.ErrNotWasm},
		{"short", []byte{0, 'a', 's'}, wasmbin.ErrNotWasm},
		{"version 2", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, wasmbin.ErrVersion},
		{"component", []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, wasmbin.ErrComponent},
		{"truncated section", module[:25], wasmbin.ErrMalformed},
		{"huge import count", []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f}, wasmbin.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := wasmbin.Parse(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(module)
	f.Add([]byte{0, 'a', 's', 'm', 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = wasmbin.Parse(b) // must not panic
	})
}
