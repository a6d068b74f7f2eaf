package storagetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/concord-kv/concord/engine/storage"
)

// benchKeys is the number of keys loaded before the read benchmarks.
const benchKeys = 10_000

// RunBenchmarks runs the standard storage benchmarks against the engines that
// open returns: Put (one key per Apply, with and without Sync), Get (hits),
// Scan (100 keys from a random start) and Batch (100 keys per Apply), each
// with 100 B and 1 KiB values. open must return a fresh, empty engine; the
// benchmark closes it. For engines without durability, the Sync variants
// measure the same thing as the others.
func RunBenchmarks(b *testing.B, open func(b *testing.B) storage.Engine) {
	sizes := []int{100, 1024}
	run := func(name string, f func(b *testing.B, e storage.Engine)) {
		b.Run(name, func(b *testing.B) {
			e := open(b)
			defer func() {
				if err := e.Close(); err != nil {
					b.Errorf("Close: %v", err)
				}
			}()
			f(b, e)
		})
	}
	for _, sync := range []bool{false, true} {
		for _, size := range sizes {
			run(fmt.Sprintf("Put/sync=%v/value=%d", sync, size), func(b *testing.B, e storage.Engine) {
				benchBatch(b, e, size, 1, sync)
			})
		}
	}
	for _, size := range sizes {
		run(fmt.Sprintf("Get/value=%d", size), func(b *testing.B, e storage.Engine) {
			benchGet(b, e, size)
		})
	}
	for _, size := range sizes {
		run(fmt.Sprintf("Scan100/value=%d", size), func(b *testing.B, e storage.Engine) {
			benchScan(b, e, size, 100)
		})
	}
	for _, sync := range []bool{false, true} {
		for _, size := range sizes {
			run(fmt.Sprintf("Batch100/sync=%v/value=%d", sync, size), func(b *testing.B, e storage.Engine) {
				benchBatch(b, e, size, 100, sync)
			})
		}
	}
}

// benchBatch applies batches of n new keys.
func benchBatch(b *testing.B, e storage.Engine, size, n int, sync bool) {
	value := randomValue(size)
	var batch storage.Batch
	key := make([]byte, 0, 32)
	i := 0
	b.SetBytes(int64(n * size))
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for range n {
			key = AppendKey(key[:0], i)
			batch.Set(key, value)
			i++
		}
		if err := e.Apply(&batch, storage.WriteOptions{Sync: sync}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, e storage.Engine, size int) {
	keys := load(b, e, size)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Get(keys[rng.IntN(len(keys))]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchScan(b *testing.B, e storage.Engine, size, n int) {
	keys := load(b, e, size)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(n * size))
	b.ReportAllocs()
	for b.Loop() {
		it, err := e.NewIter(keys[rng.IntN(len(keys)-n)], nil)
		if err != nil {
			b.Fatal(err)
		}
		seen := 0
		for ok := it.First(); ok && seen < n; ok = it.Next() {
			seen++
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
		if seen != n {
			b.Fatalf("scanned %d keys, want %d", seen, n)
		}
	}
}

// load writes benchKeys keys with values of size bytes and returns the keys.
func load(b *testing.B, e storage.Engine, size int) [][]byte {
	b.Helper()
	value := randomValue(size)
	keys := make([][]byte, benchKeys)
	var batch storage.Batch
	for i := range keys {
		keys[i] = Key(i)
		batch.Set(keys[i], value)
		if batch.Len() == 1000 || i == len(keys)-1 {
			if err := e.Apply(&batch, storage.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	return keys
}

func randomValue(size int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]byte, size)
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	return v
}
