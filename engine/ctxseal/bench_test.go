package ctxseal_test

import (
	"testing"

	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
)

// BenchmarkSealOpen seals a one-entry context and opens it: every put
// seals one, and every write with a context opens one.
func BenchmarkSealOpen(b *testing.B) {
	k, err := ctxseal.New(ctxseal.NewKey())
	if err != nil {
		b.Fatal(err)
	}
	c := dvv.NewClock(map[string]uint64{"n1.0": 3})
	key := []byte("user:1234")
	b.ReportAllocs()
	for b.Loop() {
		tok := k.Seal("ns", key, c)
		if _, err := k.Open("ns", key, tok); err != nil {
			b.Fatal(err)
		}
	}
}
