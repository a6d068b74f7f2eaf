package aae_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/dvv"
)

// benchData returns n per-partition keys with encoded objects of one
// 100-byte value written through three nodes (about 130 bytes each).
func benchData(b *testing.B, n int) (keys, objs [][]byte) {
	b.Helper()
	val := make([]byte, 100)
	keys, objs = make([][]byte, n), make([][]byte, n)
	for i := range n {
		var o dvv.Object
		for j := range 3 {
			o = o.Update(fmt.Sprint("node-", j), o.Context(), dvv.Sibling{Value: val, Timestamp: int64(i)})
		}
		keys[i] = []byte(key("ns", fmt.Sprintf("user-%08d", i)))
		objs[i] = encode(b, o)
	}
	return keys, objs
}

// BenchmarkExchange1Percent exchanges a partition where 1% of the keys
// differ: half of them missing on b, half with a newer version on a. The
// replicas do not store what they receive, so every iteration does the same
// work, and they answer Objects from a cache, so that the benchmark measures
// Exchange rather than the fake's scan.
func BenchmarkExchange1Percent(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n, "keys"), func(b *testing.B) {
			keys, objs := benchData(b, n)
			ra, rb := newMem("node-a", 0), newMem("node-b", 0)
			for i := range keys {
				k := string(keys[i])
				ra.store(k, objs[i])
				switch {
				case i%200 == 0: // missing on b
				case i%200 == 100: // older on b
					o := decodeOr(b, objs[i])
					ra.store(k, encode(b, o.Update("node-a", o.Context(), dvv.Sibling{Value: []byte("newer")})))
					rb.store(k, objs[i])
				default:
					rb.store(k, objs[i])
				}
			}
			ra.frozen, rb.frozen = true, true
			ca, cb := &cachedObjects{memReplica: ra}, &cachedObjects{memReplica: rb}
			opts := aae.ExchangeOptions{MaxSegmentsPerRound: -1}
			// The first exchange fills the caches.
			st, err := aae.Exchange(b.Context(), 0, ca, cb, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if st, err = aae.Exchange(b.Context(), 0, ca, cb, opts); err != nil {
					b.Fatal(err)
				}
			}
			if st.KeysRepairedB != n/100 {
				b.Fatalf("repaired %d keys, want %d", st.KeysRepairedB, n/100)
			}
			b.ReportMetric(float64(st.SegmentsDiffering), "segments")
			b.ReportMetric(float64(st.Keys), "keys-compared")
		})
	}
}

// cachedObjects answers Objects once from the replica and then from memory.
type cachedObjects struct {
	*memReplica
	objs []aae.KeyObject
}

func (c *cachedObjects) Objects(ctx context.Context, p int, segs []int) ([]aae.KeyObject, error) {
	if c.objs == nil {
		var err error
		if c.objs, err = c.memReplica.Objects(ctx, p, segs); err != nil {
			return nil, err
		}
	}
	return slices.Clone(c.objs), nil
}
