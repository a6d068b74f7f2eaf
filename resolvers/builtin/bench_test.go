package builtin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers/abi"
)

// benchmarkResolve measures a warm, pooled call: encoding the frame, the
// call into the guest (parse, merge, print) and copying the output.
func benchmarkResolve(b *testing.B, module string, siblings []abi.Sibling) {
	p := newPool(b, module)
	in := abi.Input{Key: []byte("user:42"), Siblings: siblings}
	ctx := context.Background()
	if _, err := p.Resolve(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShoppingCart merges 3 carts of 20 items each (10 shared), every
// item with 1-2 tags, some removed. Goal: ≤ 100 µs per call.
func BenchmarkShoppingCart(b *testing.B) {
	benchmarkResolve(b, "shopping-cart", cartSiblings())
}

// cartSiblings returns 3 carts of 20 items each (10 shared with the next).
func cartSiblings() []abi.Sibling {
	siblings := make([]abi.Sibling, 3)
	for s := range siblings {
		var items []string
		for i := range 20 {
			sku := fmt.Sprintf("sku-%05d", i+10*s)
			tags := fmt.Sprintf(`"%s-%d":%d`, sku, s, i%5+1)
			if i%3 == 0 {
				tags += fmt.Sprintf(`,"%s-%d-b":1`, sku, s)
			}
			items = append(items, fmt.Sprintf(`"%s":{%s}`, sku, tags))
		}
		removed := fmt.Sprintf(`["sku-%05d-%d","sku-%05d-%d"]`, 10*s, s, 10*s+1, s)
		siblings[s] = live(int64(s), `{"items":{`+strings.Join(items, ",")+`},"removed":`+removed+`}`)
	}
	return siblings
}

// BenchmarkLWW merges 3 values of 100 bytes.
func BenchmarkLWW(b *testing.B) {
	v := strings.Repeat("v", 100)
	benchmarkResolve(b, "lww", []abi.Sibling{live(3, v), live(1, v), live(2, v)})
}

// BenchmarkSetUnion merges 3 sets of 50 strings (25 shared).
func BenchmarkSetUnion(b *testing.B) {
	siblings := make([]abi.Sibling, 3)
	for s := range siblings {
		var elems []string
		for i := range 50 {
			elems = append(elems, fmt.Sprintf(`"element-%04d"`, i+25*s))
		}
		siblings[s] = live(1, "["+strings.Join(elems, ",")+"]")
	}
	benchmarkResolve(b, "set-union", siblings)
}

// BenchmarkCounter merges 3 counters of 20 clients each.
func BenchmarkCounter(b *testing.B) {
	siblings := make([]abi.Sibling, 3)
	for s := range siblings {
		var p []string
		for i := range 20 {
			p = append(p, fmt.Sprintf(`"client-%02d":%d`, i, i*(s+1)))
		}
		siblings[s] = live(1, `{"p":{`+strings.Join(p, ",")+`},"n":{"client-00":3}}`)
	}
	benchmarkResolve(b, "counter", siblings)
}
