package tictac_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/aae/tictac"
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
		raw, err := o.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = fmt.Appendf(nil, "ns\x00user-%08d", i)
		objs[i] = raw
	}
	return keys, objs
}

func BenchmarkTreeUpdate(b *testing.B) {
	keys, objs := benchData(b, 1024)
	tr := tictac.New(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(keys)
		tr.Update(keys[k], objs[k], objs[(k+1)%len(objs)])
		i++
	}
}

func BenchmarkTreeUpdateParallel(b *testing.B) {
	keys, objs := benchData(b, 1024)
	tr := tictac.New(0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := i % len(keys)
			tr.Update(keys[k], objs[k], objs[(k+1)%len(objs)])
			i++
		}
	})
}

func BenchmarkTreeBuild100k(b *testing.B) {
	keys, objs := benchData(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		tr := tictac.New(0)
		for i := range keys {
			tr.Update(keys[i], nil, objs[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}
