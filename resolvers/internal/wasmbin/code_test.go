package wasmbin_test

import (
	"errors"
	"testing"

	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

func TestDecodeInstr(t *testing.T) {
	t.Parallel()
	v16 := make([]byte, 16)
	tests := []struct {
		name  string
		code  []byte
		op    wasmbin.Op
		size  int // 0: an error is expected
		index uint32
	}{
		{"nop", []byte{0x01}, wasmbin.OpOther, 1, 0},
		{"block empty", []byte{0x02, 0x40}, wasmbin.OpBlock, 2, 0},
		{"loop i32", []byte{0x03, 0x7f}, wasmbin.OpLoop, 2, 0},
		{"if type index", []byte{0x04, 0x05}, wasmbin.OpIf, 2, 0},
		{"block type index, two bytes", []byte{0x02, 0x80, 0x01}, wasmbin.OpBlock, 3, 0},
		{"block of a GC reference type", []byte{0x02, 0x63, 0x70}, 0, 0, 0},
		{"br_table", []byte{0x0e, 0x02, 0x00, 0x01, 0x00}, wasmbin.OpOther, 5, 0},
		{"call", []byte{0x10, 0x80, 0x01}, wasmbin.OpCall, 3, 128},
		{"call_indirect", []byte{0x11, 0x03, 0x00}, wasmbin.OpCallIndirect, 3, 0},
		{"return", []byte{0x0f}, wasmbin.OpReturn, 1, 0},
		{"typed select", []byte{0x1c, 0x01, 0x7f}, wasmbin.OpOther, 3, 0},
		{"typed select of two types", []byte{0x1c, 0x02, 0x7f, 0x7f}, 0, 0, 0},
		{"local.tee", []byte{0x22, 0x07}, wasmbin.OpLocal, 2, 7},
		{"global.set", []byte{0x24, 0x02}, wasmbin.OpGlobal, 2, 2},
		{"i64.load", []byte{0x29, 0x03, 0x80, 0x80, 0x04}, wasmbin.OpOther, 5, 0},
		{"memory.grow", []byte{0x40, 0x00}, wasmbin.OpMemoryGrow, 2, 0},
		{"memory.size, memory 1", []byte{0x3f, 0x01}, 0, 0, 0},
		{"i32.const", []byte{0x41, 0x80, 0x7f}, wasmbin.OpOther, 3, 0},
		{"i64.const", []byte{0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, wasmbin.OpOther, 11, 0},
		{"f64.const", []byte{0x44, 1, 2, 3, 4, 5, 6, 7, 8}, wasmbin.OpOther, 9, 0},
		{"f64.const truncated", []byte{0x44, 1, 2, 3}, 0, 0, 0},
		{"ref.null func", []byte{0xd0, 0x70}, wasmbin.OpOther, 2, 0},
		{"ref.func", []byte{0xd2, 0x05}, wasmbin.OpRefFunc, 2, 5},
		{"memory.copy", []byte{0xfc, 0x0a, 0x00, 0x00}, wasmbin.OpMemoryBulk, 4, 0},
		{"memory.fill", []byte{0xfc, 0x0b, 0x00}, wasmbin.OpMemoryBulk, 3, 0},
		{"memory.init", []byte{0xfc, 0x08, 0x01, 0x00}, wasmbin.OpMemoryBulk, 4, 0},
		{"table.grow", []byte{0xfc, 0x0f, 0x00}, wasmbin.OpTableBulk, 3, 0},
		{"table.size", []byte{0xfc, 0x10, 0x00}, wasmbin.OpOther, 3, 0},
		{"i32.trunc_sat_f32_s", []byte{0xfc, 0x00}, wasmbin.OpOther, 2, 0},
		{"misc 18", []byte{0xfc, 0x12}, 0, 0, 0},
		{"misc 264 (wazero would read 8)", []byte{0xfc, 0x88, 0x02, 0x00, 0x00}, 0, 0, 0},
		{"v128.const", append([]byte{0xfd, 0x0c}, v16...), wasmbin.OpOther, 18, 0},
		{"i8x16.shuffle", append([]byte{0xfd, 0x0d}, v16...), wasmbin.OpOther, 18, 0},
		{"v128.load", []byte{0xfd, 0x00, 0x04, 0x00}, wasmbin.OpOther, 4, 0},
		{"v128.load8_lane", []byte{0xfd, 0x54, 0x00, 0x00, 0x0f}, wasmbin.OpOther, 5, 0},
		{"i8x16.extract_lane_s", []byte{0xfd, 0x15, 0x03}, wasmbin.OpOther, 3, 0},
		{"i16x8.abs as specified", []byte{0xfd, 0x80, 0x01}, wasmbin.OpOther, 3, 0},
		// The specification reads 0x100 (a relaxed SIMD opcode); wazero
		// reads i16x8.abs and then a block: refused.
		{"SIMD 0x100", []byte{0xfd, 0x80, 0x02, 0x40}, 0, 0, 0},
		// Padded v128.const: the specification reads 16 bytes of
		// immediate, wazero an opcode 0x8c and then instructions.
		{"padded v128.const", append([]byte{0xfd, 0x8c, 0x00}, v16...), 0, 0, 0},
		{"return_call (tail calls are off)", []byte{0x12, 0x00}, 0, 0, 0},
		{"try (exceptions are off)", []byte{0x06, 0x40}, 0, 0, 0},
		{"atomics (threads are off)", []byte{0xfe, 0x00}, 0, 0, 0},
		{"empty", nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := wasmbin.DecodeInstr(tt.code, 0)
			if tt.size == 0 {
				if err == nil {
					t.Fatalf("DecodeInstr(% x) = %+v, want an error", tt.code, in)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeInstr(% x): %v", tt.code, err)
			}
			if in.Op != tt.op || in.End != tt.size || in.Index != tt.index {
				t.Errorf("DecodeInstr(% x) = op %d, end %d, index %d; want %d, %d, %d", tt.code, in.Op, in.End, in.Index, tt.op, tt.size, tt.index)
			}
		})
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	depths := []int{}
	err := wasmbin.Walk([]byte{0x02, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b}, func(in wasmbin.Instr, depth int) error {
		depths = append(depths, depth)
		return nil
	})
	if err != nil || len(depths) != 5 || depths[1] != 2 || depths[4] != -1 {
		t.Errorf("Walk: depths %v, %v", depths, err)
	}
	for name, code := range map[string][]byte{
		"unterminated":     {0x02, 0x40, 0x0b},
		"trailing":         {0x0b, 0x01},
		"bad instruction":  {0xff, 0x0b},
		"truncated immmed": {0x10},
	} {
		if err := wasmbin.Walk(code, func(wasmbin.Instr, int) error { return nil }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	stop := errors.New("stop")
	if err := wasmbin.Walk([]byte{0x01, 0x0b}, func(wasmbin.Instr, int) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Walk did not return the callback's error: %v", err)
	}
}

func TestShape(t *testing.T) {
	t.Parallel()
	m, err := wasmbin.Decode(module)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Shape(0)
	if err != nil || s.Instrs != 1 || s.Depth != 0 || s.Locals != 0 {
		t.Errorf("Shape = %+v, %v", s, err)
	}
}

func FuzzDecodeInstr(f *testing.F) {
	f.Add([]byte{0x02, 0x40, 0x0b, 0x0b})
	f.Add([]byte{0xfd, 0x0c, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = wasmbin.Walk(b, func(wasmbin.Instr, int) error { return nil }) // must not panic
		for off := 0; off < len(b); off++ {
			in, err := wasmbin.DecodeInstr(b, off)
			if err == nil && (in.End <= off || in.End > len(b)) {
				t.Fatalf("DecodeInstr at %d ends at %d of %d", off, in.End, len(b))
			}
		}
	})
}
