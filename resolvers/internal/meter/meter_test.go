package meter_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/concord-kv/concord/resolvers/internal/meter"
	"github.com/concord-kv/concord/resolvers/internal/wasmbin"
)

var config = meter.Config{Costs: meter.DefaultCosts, MaxTableElements: 1000}

// wat builds WebAssembly text with wat2wasm (Debian package "wabt").
func wat(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", "--debug-names", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func instrument(t testing.TB, wasm []byte) []byte {
	t.Helper()
	m, err := wasmbin.Decode(wasm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := meter.Instrument(m, config)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}

// sample has loops, recursion, a start function, an import called directly
// and through a table, and a multi-value function.
const sample = `(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (type $bin (func (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) func $add $mul)
  (global $started (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (func $mul (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "sum") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (call $add (local.get $s) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $s))
  (func (export "indirect") (param i32 i32 i32) (result i32)
    (call_indirect (type $bin) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "early") (param $x i32) (result i32)
    (if (local.get $x) (then (return (i32.const 7))))
    (block $out (br_if $out (i32.const 1)) (unreachable))
    (i32.const 9))
  (func (export "pair") (result i32 i64) (i32.const 1) (i64.const 2))
  (func (export "started") (result i32) (global.get $started))
  (func $start (global.set $started (i32.const 1)))
  (start $start))`

// host instantiates the check-in (refilling fuel, counting calls) and env.add.
type host struct {
	checkins int
	fuel     api.MutableGlobal
	refill   uint64
}

func (h *host) instantiate(t *testing.T, ctx context.Context, rt wazero.Runtime) {
	t.Helper()
	_, err := rt.NewHostModuleBuilder(meter.HostModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, _ []uint64) {
			h.checkins++
			h.fuel.Set(h.refill)
		}), nil, nil).Export(meter.CheckinName).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i32 := api.ValueTypeI32
	_, err = rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
			s[0] = uint64(uint32(s[0]) + uint32(s[1]))
		}), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("add").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
}

// calls are what TestInstrumentedRunsTheSame runs.
var calls = []struct {
	fn   string
	args []uint64
}{
	{"fib", []uint64{20}}, {"sum", []uint64{1000}}, {"indirect", []uint64{6, 7, 0}},
	{"indirect", []uint64{6, 7, 1}}, {"early", []uint64{1}}, {"early", []uint64{0}},
	{"pair", nil}, {"started", nil},
}

// TestInstrumentedRunsTheSame runs the sample as written and instrumented:
// same results, every frame given back, and the instrumented one checks
// in (its fuel is small).
func TestInstrumentedRunsTheSame(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := wat(t, sample)
	var want [][]uint64
	for i, wasm := range [][]byte{orig, instrument(t, orig)} {
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		h := &host{refill: 1000}
		h.instantiate(t, ctx, rt)
		cfg := wazero.NewModuleConfig()
		if i == 1 {
			cfg = cfg.WithStartFunctions() // the start function is exported instead
		}
		mod, err := rt.InstantiateWithConfig(ctx, wasm, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			h.fuel = mod.ExportedGlobal(meter.FuelExport).(api.MutableGlobal)
			h.fuel.Set(h.refill)
			mod.ExportedGlobal(meter.StackExport).(api.MutableGlobal).Set(1 << 20)
			if _, err := mod.ExportedFunction(meter.StartExport).Call(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for j, call := range calls {
			got, err := mod.ExportedFunction(call.fn).Call(ctx, call.args...)
			if err != nil {
				t.Fatalf("%s: %v", call.fn, err)
			}
			if i == 0 {
				want = append(want, got)
			} else if !slices.Equal(got, want[j]) {
				t.Errorf("%s%v: instrumented %v, original %v", call.fn, call.args, got, want[j])
			}
		}
		if i == 1 {
			if stack := int32(mod.ExportedGlobal(meter.StackExport).Get()); stack != 1<<20 {
				t.Errorf("stack budget %d after the calls, want every frame given back (%d)", stack, 1<<20)
			}
			if h.checkins == 0 {
				t.Error("the instrumented module never checked in")
			}
		}
	}
}

// TestInstrumentedShape checks what the rewriting adds and moves.
func TestInstrumentedShape(t *testing.T) {
	t.Parallel()
	out := instrument(t, wat(t, sample))
	m, err := wasmbin.Decode(out)
	if err != nil {
		t.Fatalf("the instrumented module does not decode: %v", err)
	}
	if m.Start != -1 {
		t.Error("the start section is still there")
	}
	last := m.Imports[len(m.Imports)-1]
	if last.Module != meter.HostModule || last.Name != meter.CheckinName || last.Kind != wasmbin.KindFunc {
		t.Errorf("last import %+v, want the check-in", last)
	}
	exports := map[string]wasmbin.Export{}
	for _, e := range m.Exports {
		exports[e.Name] = e
	}
	for _, name := range []string{meter.FuelExport, meter.StackExport, meter.StartExport} {
		if _, ok := exports[name]; !ok {
			t.Errorf("no export %q", name)
		}
	}
	fuel := exports[meter.FuelExport].Index
	// Every function body starts by charging the fuel, and every loop
	// header charges it: the next instruction is global.get fuel.
	for i, f := range m.Funcs {
		first, prevLoop := true, false
		err := wasmbin.Walk(f.Code, func(in wasmbin.Instr, _ int) error {
			isFuel := in.Op == wasmbin.OpGlobal && in.Index == fuel && f.Code[in.Start] == 0x23
			if (first || prevLoop) && !isFuel {
				t.Errorf("function %d: the instruction at %d is not a fuel charge", i, in.Start)
			}
			first, prevLoop = false, in.Op == wasmbin.OpLoop
			return nil
		})
		if err != nil {
			t.Errorf("function %d: %v", i, err)
		}
	}
	// The imported function in the table is replaced by a wrapper.
	if len(m.Funcs) != 8+1 {
		t.Errorf("%d defined functions, want the 8 of the module and 1 wrapper", len(m.Funcs))
	}
}

func TestInstrumentRefuses(t *testing.T) {
	t.Parallel()
	// An index one past the module's could name what the rewriting adds
	// (the fuel global, a wrapper): refused, not renumbered.
	tests := []struct {
		name, src, want string
	}{
		{"reserved export", `(module (global (export "concord:fuel") i32 (i32.const 0)))`, "reserved"},
		{"reserved import", `(module (import "concord:meter" "checkin" (func)))`, "reserved"},
		{"table too large", `(module (table 1001 funcref))`, "more than the 1000 allowed"},
		{"global out of range", `(module (global $g (mut i32) (i32.const 0)) (func (global.set 1 (i32.const 5))))`, "out of range"},
		{"call out of range", `(module (func (call 1)))`, "out of range"},
		{"local out of range", `(module (func (param i32) (local.set 1 (i32.const 0))))`, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wasm := watNoCheck(t, tt.src)
			m, err := wasmbin.Decode(wasm)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := meter.Instrument(m, config); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Instrument = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// watNoCheck builds text that does not validate (wat2wasm --no-check).
func watNoCheck(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", "--no-check", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTablesGetAMaximum(t *testing.T) {
	t.Parallel()
	m, err := wasmbin.Decode(instrument(t, wat(t, `(module (table 10 funcref) (table 5 50000 externref))`)))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.Section(wasmbin.SectionTable)
	tables, err := wasmbin.ParseTables(s.Body)
	if err != nil {
		t.Fatal(err)
	}
	for i, tb := range tables {
		if !tb.HasMax || tb.Max != config.MaxTableElements {
			t.Errorf("table %d: %+v, want a maximum of %d", i, tb, config.MaxTableElements)
		}
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(wat(f, sample))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wasmbin.Decode(b)
		if err != nil {
			return
		}
		out, err := meter.Instrument(m, config) // must not panic
		if err != nil {
			if !errors.Is(err, meter.ErrUnsupported) && !errors.Is(err, wasmbin.ErrMalformed) {
				t.Fatalf("error of an unexpected kind: %v", err)
			}
			return
		}
		if _, err := wasmbin.Decode(out); err != nil {
			t.Fatalf("the instrumented module does not decode: %v", err)
		}
	})
}
