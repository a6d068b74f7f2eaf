package builtin_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

func BenchmarkZZLoop(b *testing.B) {
	wasm, _ := os.ReadFile("/tmp/loopt/loop.wasm")
	m, err := rt.Compile(context.Background(), wasm)
	if err != nil {
		b.Fatal(err)
	}
	p := resolvers.NewPool(m, "x", nil, resolvers.Limits{Deadline: time.Second})
	for _, mode := range []string{"", "m"} {
		for _, n := range []int64{0, 10000} {
			in := abi.Input{Siblings: []abi.Sibling{{Timestamp: n, Value: []byte(mode)}}}
			b.Run("n"+mode, func(b *testing.B) {
				for b.Loop() {
					p.Resolve(context.Background(), in)
				}
			})
		}
	}
}
