package ycsb

import (
	"math"
	"math/bits"
)

// Rand is a small deterministic pseudo-random source (SplitMix64). The
// standard library's math/rand is left out on purpose: this package is pure,
// and a seeded SplitMix64 is all a load generator needs.
type Rand struct{ state uint64 }

// NewRand returns a source seeded with seed.
func NewRand(seed uint64) *Rand { return &Rand{state: seed} }

// Uint64 returns the next 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a number in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Int64n returns a number in [0, n); n must be positive. It maps 64
// random bits onto [0, n) by multiplication; the bias for n far below 2^64
// is negligible for a load generator.
func (r *Rand) Int64n(n int64) int64 {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int64(hi)
}

// fnvHash64 is YCSB's Utils.fnvhash64: FNV-1a over the eight bytes of v,
// low byte first, made non-negative as Java's Math.abs does.
func fnvHash64(v int64) int64 {
	const (
		offset = 0xCBF29CE484222325
		prime  = 1099511628211
	)
	h := uint64(offset)
	for range 8 {
		h ^= uint64(v) & 0xff
		h *= prime
		v >>= 8
	}
	s := int64(h)
	if s < 0 {
		s = -s
	}
	if s < 0 { // math.MinInt64 stays negative under Math.abs
		s = math.MaxInt64
	}
	return s
}
