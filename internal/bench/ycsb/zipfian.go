package ycsb

import "math"

// ZipfianConstant is YCSB's ZIPFIAN_CONSTANT, the skew θ of its zipfian
// generators.
const ZipfianConstant = 0.99

// Constants of YCSB's ScrambledZipfianGenerator: it draws from a zipfian
// over this many items (zeta precomputed for θ = 0.99) and hashes the draw
// onto the key space.
const (
	scrambledItemCount = 10_000_000_000
	scrambledZetan     = 26.46902820178302
)

// Zipfian is YCSB's ZipfianGenerator (Gray et al., "Quickly generating
// billion-record synthetic databases"): item 0 is the most popular, item 1
// the next, and so on. The item count may grow between draws (see NextN);
// zeta is then extended incrementally, as YCSB does.
type Zipfian struct {
	items     int64
	base      int64
	theta     float64
	zeta2     float64
	alpha     float64
	zetan     float64
	eta       float64
	zetaCount int64 // items zetan was computed for
}

// NewZipfian returns a zipfian over [min, max] with skew theta.
func NewZipfian(min, max int64, theta float64) *Zipfian {
	return newZipfian(min, max, theta, zetaStatic(0, max-min+1, theta, 0))
}

func newZipfian(min, max int64, theta, zetan float64) *Zipfian {
	z := &Zipfian{items: max - min + 1, base: min, theta: theta, zetan: zetan, zetaCount: max - min + 1}
	z.zeta2 = zetaStatic(0, 2, theta, 0)
	z.alpha = 1 / (1 - theta)
	z.eta = z.etaFor(z.items)
	return z
}

func (z *Zipfian) etaFor(n int64) float64 {
	return (1 - math.Pow(2/float64(n), 1-z.theta)) / (1 - z.zeta2/z.zetan)
}

// zetaStatic adds the terms st+1 … n of the zeta sum to initial.
func zetaStatic(st, n int64, theta, initial float64) float64 {
	sum := initial
	for i := st; i < n; i++ {
		sum += 1 / math.Pow(float64(i+1), theta)
	}
	return sum
}

// Next draws an item of [min, max].
func (z *Zipfian) Next(r *Rand) int64 { return z.NextN(r, z.items) }

// NextN draws from the first n items (offset by min), as YCSB's
// nextLong(itemcount). When n grew since the last call, zeta is extended
// over the new items; a smaller n than zeta was computed for reuses it (as
// YCSB does unless told otherwise), which only flattens the skew slightly.
func (z *Zipfian) NextN(r *Rand, n int64) int64 {
	if n > z.zetaCount {
		z.zetan = zetaStatic(z.zetaCount, n, z.theta, z.zetan)
		z.zetaCount = n
		z.eta = z.etaFor(n)
	}
	u := r.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return z.base
	}
	if uz < 1+math.Pow(0.5, z.theta) {
		return z.base + 1
	}
	v := z.base + int64(float64(n)*math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(v, z.base+n-1)
}

// KeyChooser picks the key number of a read or update among the n keys that
// exist, 0 … n-1.
type KeyChooser interface {
	Next(r *Rand, n int64) int64
}

// ScrambledZipfian is YCSB's ScrambledZipfianGenerator: zipfian popularity
// (θ = 0.99 over ten billion items) with the popular items spread over the
// key space by hashing, so hot keys are not neighbours.
type ScrambledZipfian struct{ z *Zipfian }

// NewScrambledZipfian returns YCSB's scrambled zipfian.
func NewScrambledZipfian() *ScrambledZipfian {
	return &ScrambledZipfian{z: newZipfian(0, scrambledItemCount, ZipfianConstant, scrambledZetan)}
}

// Next draws a key number in [0, n).
func (s *ScrambledZipfian) Next(r *Rand, n int64) int64 { return fnvHash64(s.z.Next(r)) % n }

// Uniform draws every key with the same probability.
type Uniform struct{}

// Next draws a key number in [0, n).
func (Uniform) Next(r *Rand, n int64) int64 { return r.Int64n(n) }

// Latest is YCSB's SkewedLatestGenerator: the most recently inserted key is
// the most popular, with zipfian popularity going back in time.
type Latest struct{ z *Zipfian }

// NewLatest returns a latest-skewed chooser for a key space that starts
// with n keys.
func NewLatest(n int64) *Latest { return &Latest{z: NewZipfian(0, max(n, 2)-1, ZipfianConstant)} }

// Next draws a key number in [0, n), most likely n-1.
func (l *Latest) Next(r *Rand, n int64) int64 {
	last := n - 1
	if last < 1 {
		return 0
	}
	return last - l.z.NextN(r, last)
}
