package resolvers

import "github.com/tetratelabs/wazero/experimental"

// linearMemory backs a guest's linear memory with a Go slice that grows
// geometrically (×2, capped at the memory's maximum).
//
// wazero's default grows the backing slice to exactly the new size, so a
// guest that grows its memory one page at a time copies O(n²) bytes: about
// 100 ms of memmove to reach 16 MiB (measured with the memory bomb in
// testdata/hostile.wat). Doubling makes the total copy O(n).
type linearMemory struct {
	buf []byte
	max uint64
}

// memoryAllocator is passed to wazero through experimental.WithMemoryAllocator.
var memoryAllocator = experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
	return &linearMemory{buf: make([]byte, 0, capacity), max: maxBytes}
})

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size] // bytes past the old length are still zero
		return m.buf
	}
	newCap := min(max(size, 2*uint64(cap(m.buf))), m.max)
	buf := make([]byte, size, newCap)
	copy(buf, m.buf)
	m.buf = buf
	return buf
}

func (m *linearMemory) Free() { m.buf = nil }
