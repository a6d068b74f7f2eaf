package dvv_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

// benchObject is a key written through 3 nodes with 2 concurrent siblings of
// 100 bytes each.
func benchObject() dvv.Object {
	var o dvv.Object
	val := make([]byte, 100)
	for i := range 30 {
		o = o.Update(fmt.Sprintf("node-%d", i%3), o.Context(), dvv.Sibling{Value: val, Timestamp: int64(i)})
	}
	return dvv.Sync(o, dvv.Object{}.Update("node-1", dvv.Clock{}, dvv.Sibling{Value: val}))
}

func BenchmarkUpdate(b *testing.B) {
	o := benchObject()
	ctx := o.Context()
	s := dvv.Sibling{Value: make([]byte, 100)}
	b.ReportAllocs()
	for b.Loop() {
		o.Update("node-2", ctx, s)
	}
}

func BenchmarkSync(b *testing.B) {
	o := benchObject()
	p := o.Update("node-0", dvv.Clock{}, dvv.Sibling{Value: []byte("concurrent")})
	b.ReportAllocs()
	for b.Loop() {
		dvv.Sync(o, p)
	}
}

func BenchmarkMarshal(b *testing.B) {
	o := benchObject()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	enc, _ := benchObject().MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dvv.Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}
