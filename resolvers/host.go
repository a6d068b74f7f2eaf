package resolvers

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"unicode/utf16"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Host module names.
const (
	hostModuleName = "concord"
	envModuleName  = "env"
)

// Negative results of the concord host functions (see ABI.md).
const (
	errBounds      = -1 // ptr/len outside the guest's memory
	errTooLarge    = -2 // output beyond Limits.MaxOutputBytes
	errUnavailable = -3 // called outside resolve (input_read, output_write during init)
)

// Guest log caps, per call.
const (
	maxLogLines = 32
	maxLogBytes = 1024
)

// instanceKey carries the *instance being called in the context, so the host
// functions (shared by all pools of an engine) find their state.
type instanceKey struct{}

func instanceFrom(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// concordHostModule defines the concord module of ABI v1.
func concordHostModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(hostModuleName)
	export := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	i32x2 := []api.ValueType{i32, i32}
	one := []api.ValueType{i32}
	export("input_read", inputRead, i32x2, one)
	export("output_write", outputWrite, i32x2, one)
	export("config_read", configRead, i32x2, one)
	export("log", guestLog, []api.ValueType{i32, i32, i32}, nil)
	return b
}

// setResult stores an i32 result on the stack.
func setResult(stack []uint64, v int32) { stack[0] = api.EncodeI32(v) }

func inputRead(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if inst == nil || !inst.inResolve {
		setResult(stack, errUnavailable)
		return
	}
	n = min(n, uint32(len(inst.frame)))
	if !mod.Memory().Write(ptr, inst.frame[:n]) {
		setResult(stack, errBounds)
		return
	}
	setResult(stack, int32(n))
}

func outputWrite(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if inst == nil || !inst.inResolve {
		setResult(stack, errUnavailable)
		return
	}
	if uint64(len(inst.output))+uint64(n) > uint64(inst.pool.limits.MaxOutputBytes) {
		inst.outputOverflow = true
		setResult(stack, errTooLarge)
		return
	}
	p, ok := mod.Memory().Read(ptr, n)
	if !ok {
		setResult(stack, errBounds)
		return
	}
	inst.output = append(inst.output, p...)
	setResult(stack, int32(n))
}

func configRead(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if inst == nil {
		setResult(stack, errUnavailable)
		return
	}
	config := inst.pool.config
	n = min(n, uint32(len(config)))
	if !mod.Memory().Write(ptr, config[:n]) {
		setResult(stack, errBounds)
		return
	}
	setResult(stack, int32(len(config)))
}

var guestLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func guestLog(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	level, ptr, n := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	if inst == nil || inst.logLines >= maxLogLines {
		return
	}
	inst.logLines++
	truncated := n > maxLogBytes
	p, ok := mod.Memory().Read(ptr, min(n, maxLogBytes))
	if !ok {
		return
	}
	lvl := guestLevels[min(max(level, 0), int32(len(guestLevels)-1))]
	inst.pool.logger.LogAttrs(ctx, lvl, "resolver log", slog.String("guest", string(p)), slog.Bool("truncated", truncated))
}

// envHostModule provides env.abort, which AssemblyScript imports by default.
// It traps, with the message AssemblyScript passed.
func envHostModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	return rt.NewHostModuleBuilder(envModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(abort), []api.ValueType{i32, i32, i32, i32}, nil).
		Export("abort")
}

// abortError is the trap raised by env.abort.
type abortError struct {
	message, file string
	line, column  uint32
}

func (e *abortError) Error() string {
	return fmt.Sprintf("abort: %s at %s:%d:%d", e.message, e.file, e.line, e.column)
}

func abort(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	panic(&abortError{
		message: asString(mem, api.DecodeU32(stack[0])),
		file:    asString(mem, api.DecodeU32(stack[1])),
		line:    api.DecodeU32(stack[2]),
		column:  api.DecodeU32(stack[3]),
	})
}

// asString decodes an AssemblyScript string (UTF-16LE, byte length in the
// u32 before it), best effort and bounded.
func asString(mem api.Memory, ptr uint32) string {
	if mem == nil || ptr < 4 {
		return "?"
	}
	n, ok := mem.ReadUint32Le(ptr - 4)
	if !ok {
		return "?"
	}
	p, ok := mem.Read(ptr, min(n, 2*maxLogBytes)&^1)
	if !ok {
		return "?"
	}
	u := make([]uint16, len(p)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(p[2*i:])
	}
	return string(utf16.Decode(u))
}
