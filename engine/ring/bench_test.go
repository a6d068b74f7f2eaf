package ring_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/ring"
)

func BenchmarkRebalance(b *testing.B) {
	for _, k := range []int{4, 8, 15} {
		base := mustNew(b, 1024, nodes(0, k), 3)
		b.Run(fmt.Sprintf("Q=1024/join/%d->%d", k, k+1), func(b *testing.B) {
			to := nodes(0, k+1)
			for b.Loop() {
				if _, err := ring.Rebalance(base, to, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Q=1024/leave/%d->%d", k, k-1), func(b *testing.B) {
			to := nodes(1, k)
			for b.Loop() {
				if _, err := ring.Rebalance(base, to, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		mustNew(b, 1024, nodes(0, 16), 3)
	}
}
