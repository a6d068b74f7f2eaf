package ycsb_test

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/internal/bench/ycsb"
)

// draws samples n key numbers from c over a key space of size keys and
// returns each key's count.
func draws(c ycsb.KeyChooser, seed uint64, keys int64, n int) []int {
	r := ycsb.NewRand(seed)
	counts := make([]int, keys)
	for range n {
		counts[c.Next(r, keys)]++
	}
	return counts
}

// topShare is the share of draws that went to the hottest tenth of keys.
func topShare(counts []int) float64 {
	sorted := slices.Sorted(slices.Values(counts))
	slices.Reverse(sorted)
	top, total := 0, 0
	for i, c := range sorted {
		if i < len(sorted)/10 {
			top += c
		}
		total += c
	}
	return float64(top) / float64(total)
}

func TestChoosersStayInRangeAndAreDeterministic(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		dist := rapid.SampledFrom([]string{"zipfian", "uniform", "latest"}).Draw(t, "dist")
		keys := rapid.Int64Range(1, 5000).Draw(t, "keys")
		seed := rapid.Uint64().Draw(t, "seed")
		a, err := ycsb.NewChooser(dist, keys)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ycsb.NewChooser(dist, keys)
		ra, rb := ycsb.NewRand(seed), ycsb.NewRand(seed)
		for i := range 2000 {
			n := keys + int64(i/100) // the key space grows, as inserts make it
			x, y := a.Next(ra, n), b.Next(rb, n)
			if x != y {
				t.Fatalf("draw %d: %d and %d from the same seed", i, x, y)
			}
			if x < 0 || x >= n {
				t.Fatalf("draw %d: key %d outside [0, %d)", i, x, n)
			}
		}
	})
}

func TestZipfianIsSkewedAsYCSBs(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.Int64Range(200, 1000).Draw(t, "keys")
		seed := rapid.Uint64().Draw(t, "seed")
		const n = 30_000

		// The plain zipfian: item 0 has probability 1/zeta(keys, 0.99),
		// about 1/(ln keys + 0.58).
		z := ycsb.NewZipfian(0, keys-1, ycsb.ZipfianConstant)
		r := ycsb.NewRand(seed)
		first := 0
		for range n {
			if z.Next(r) == 0 {
				first++
			}
		}
		zeta := 0.0
		for i := range keys {
			zeta += 1 / pow(float64(i+1), ycsb.ZipfianConstant)
		}
		if got, want := float64(first)/n, 1/zeta; got < want*0.9 || got > want*1.1 {
			t.Fatalf("zipfian over %d keys: item 0 drew %.4f of draws, want %.4f±10%%", keys, got, want)
		}

		// The scrambled zipfian keeps YCSB's ten-billion-item skew: its
		// hottest key takes about 1/26.5 of all draws (item 0), and the
		// hottest tenth of keys clearly more than a tenth.
		sz := draws(ycsb.NewScrambledZipfian(), seed, keys, n)
		if hottest := float64(slices.Max(sz)) / n; hottest < 0.03 || hottest > 0.1 {
			t.Fatalf("scrambled zipfian: hottest key drew %.4f, want about 0.038", hottest)
		}
		if s := topShare(sz); s < 0.2 {
			t.Fatalf("scrambled zipfian: the hottest tenth of keys drew %.3f of draws, want ≥ 0.2", s)
		}
		if s := topShare(draws(ycsb.Uniform{}, seed, keys, n)); s > 0.16 {
			t.Fatalf("uniform: the hottest tenth of keys drew %.3f of draws, want about 0.1", s)
		}

		// Latest: the newest key is the hottest.
		lt := draws(ycsb.NewLatest(keys), seed, keys, n)
		if slices.Index(lt, slices.Max(lt)) != int(keys-1) {
			t.Fatalf("latest: key %d is not the hottest", keys-1)
		}
	})
}

func pow(x, y float64) float64 { return math.Pow(x, y) }

func TestWorkloadMixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want map[ycsb.Op]float64
	}{
		{"a", map[ycsb.Op]float64{ycsb.Read: 0.5, ycsb.Update: 0.5}},
		{"B", map[ycsb.Op]float64{ycsb.Read: 0.95, ycsb.Update: 0.05}},
		{"c", map[ycsb.Op]float64{ycsb.Read: 1}},
		{"d", map[ycsb.Op]float64{ycsb.Read: 0.95, ycsb.Insert: 0.05}},
		{"F", map[ycsb.Op]float64{ycsb.Read: 0.5, ycsb.ReadModifyWrite: 0.5}},
		{"u", map[ycsb.Op]float64{ycsb.Update: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := ycsb.Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			r := ycsb.NewRand(1)
			got := map[ycsb.Op]float64{}
			const n = 50_000
			for range n {
				got[w.Choose(r)] += 1.0 / n
			}
			for _, op := range ycsb.Ops {
				if d := got[op] - tc.want[op]; d > 0.01 || d < -0.01 {
					t.Errorf("%s: %.3f, want %.3f", op, got[op], tc.want[op])
				}
			}
		})
	}
	if _, err := ycsb.Lookup("e"); err == nil {
		t.Error("workload E: no error")
	}
}

func TestKeyIsZeroPadded(t *testing.T) {
	t.Parallel()
	if got := string(ycsb.Key(42)); got != "user0000000042" {
		t.Fatalf("Key(42) = %q", got)
	}
}
