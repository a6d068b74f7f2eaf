package resolvers_test

import (
	"context"
	"testing"

	"github.com/concord-kv/concord/resolvers"
)

// BenchmarkResolvePooled measures a warm call: encode, deadline, call into
// the WAT resolver with 3 siblings, copy the output.
func BenchmarkResolvePooled(b *testing.B) {
	p := newPool(b, "longest", "cart", nil, resolvers.Limits{})
	in := values(`{"apple":1}`, `{"apple":1,"pear":2}`, `{"fig":3}`)
	ctx := context.Background()
	mustResolve(b, p, in)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	if s := p.Stats(); s.ColdStarts != 1 {
		b.Fatalf("%d cold starts, want 1", s.ColdStarts)
	}
}

// BenchmarkResolveCold measures a call on a new pool: compiling for the
// pool's engine (a cache hit), instantiating, and the call itself.
func BenchmarkResolveCold(b *testing.B) {
	m := compile(b, "longest")
	in := values("a", "bb", "c")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p := resolvers.NewPool(m, "cart", nil, resolvers.Limits{})
		if _, err := p.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
		_ = p.Close(ctx)
	}
}

// BenchmarkColdStart isolates instantiation: every call finds no idle
// instance because the pool is drained first.
func BenchmarkColdStart(b *testing.B) {
	p := newPool(b, "longest", "cart", nil, resolvers.Limits{})
	in := values("a", "bb", "c")
	ctx := context.Background()
	mustResolve(b, p, in)
	b.ReportAllocs()
	for b.Loop() {
		p.Drain()
		if _, err := p.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
