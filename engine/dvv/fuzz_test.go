package dvv_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

// seedObjects are valid objects of various shapes for the fuzz corpora.
func seedObjects() []dvv.Object {
	var zero dvv.Clock
	a := dvv.Object{}.Update("node-a", zero, put("hello")).Update("node-a", zero, dvv.Sibling{Tombstone: true, Timestamp: -5})
	b := dvv.Object{}.Update("node-b", a.Context(), dvv.Sibling{Value: []byte{0, 1, 2}, Timestamp: math.MaxInt64})
	return []dvv.Object{
		{},
		a,
		b,
		dvv.Sync(a, b),
		dvv.Sync(a, b).Update("node-c", a.Context(), put("c")),
	}
}

func FuzzDecodeContext(f *testing.F) {
	for _, o := range seedObjects() {
		f.Add(dvv.EncodeContext(o.Context()))
	}
	f.Add(dvv.EncodeContext(dvv.NewClock(map[string]uint64{"x": dvv.MaxCounter, "y": 1})))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := dvv.DecodeContext(b)
		if err != nil {
			if !errors.Is(err, dvv.ErrBadContext) {
				t.Fatalf("error %v does not wrap ErrBadContext", err)
			}
			return
		}
		if len(b) == 0 {
			if !c.IsZero() {
				t.Fatalf("empty token decoded to %v", c)
			}
			return
		}
		if again := dvv.EncodeContext(c); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, o := range seedObjects() {
		b, err := o.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 1, 'a', 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := dvv.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, dvv.ErrBadObject) {
				t.Fatalf("error %v does not wrap ErrBadObject", err)
			}
			return
		}
		again, err := o.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x, %v", b, again, err)
		}
		if n := o.Len(); len(o.Siblings()) != n || len(o.Dots()) != n {
			t.Fatalf("Len %d, %d siblings, %d dots", n, len(o.Siblings()), len(o.Dots()))
		}
		if !dvv.Sync(o, o).Equal(o) {
			t.Fatal("Sync(o, o) differs from o")
		}
		// A write with the full context supersedes every sibling.
		const actor = "fuzz-writer"
		if o.Context().Get(actor) < math.MaxUint64 {
			if w := o.Update(actor, o.Context(), put("w")); w.Len() != 1 || !w.Context().Descends(o.Context()) {
				t.Fatalf("write with the full context left %d siblings", w.Len())
			}
		}
	})
}
