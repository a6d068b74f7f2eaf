package dvv_test

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/dvv"
)

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		o := drawObjects(t, 1)[0]
		b, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[0] != 1 {
			t.Fatalf("encoding %x does not start with format version 1", b)
		}
		got, err := dvv.Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(%x): %v", b, err)
		}
		if !got.Equal(o) {
			t.Fatalf("round trip changed dots %v into %v", o.Dots(), got.Dots())
		}
		// The decoded object does not alias the input buffer.
		clear(b)
		if !got.Equal(o) {
			t.Fatal("decoded object changed when the input buffer was overwritten")
		}
		again, _ := got.MarshalBinary()
		want, _ := o.MarshalBinary()
		if !bytes.Equal(again, want) {
			t.Fatalf("re-encoding differs: %x vs %x", again, want)
		}
	})
}

// genClock draws an arbitrary clock: any non-empty actor names, any counters
// up to dvv.MaxCounter.
func genClock() *rapid.Generator[dvv.Clock] {
	return rapid.Custom(func(t *rapid.T) dvv.Clock {
		m := rapid.MapOfN(
			rapid.StringN(1, 12, -1),
			rapid.OneOf(rapid.Uint64Range(0, 300), rapid.Uint64Range(0, dvv.MaxCounter)),
			0, 8,
		).Draw(t, "pairs")
		return dvv.NewClock(m)
	})
}

func TestContextRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		c := genClock().Draw(t, "clock")
		b := dvv.EncodeContext(c)
		if len(b) == 0 || b[0] != 1 {
			t.Fatalf("token %x does not start with format version 1", b)
		}
		got, err := dvv.DecodeContext(b)
		if err != nil {
			t.Fatalf("DecodeContext(%x): %v", b, err)
		}
		if !got.Equal(c) {
			t.Fatalf("round trip changed %v into %v", c, got)
		}
	})
}

func TestObjectContextRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		c := drawObjects(t, 1)[0].Context()
		got, err := dvv.DecodeContext(dvv.EncodeContext(c))
		if err != nil || !got.Equal(c) {
			t.Fatalf("round trip of %v gave %v, %v", c, got, err)
		}
	})
}

func TestClockMergeLaws(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genClock().Draw(t, "a"), genClock().Draw(t, "b"), genClock().Draw(t, "c")
		ab := a.Merge(b)
		if !ab.Equal(b.Merge(a)) || !ab.Merge(c).Equal(a.Merge(b.Merge(c))) || !a.Merge(a).Equal(a) {
			t.Fatalf("Merge is not a join on %v, %v, %v", a, b, c)
		}
		if !ab.Descends(a) || !ab.Descends(b) {
			t.Fatalf("%v does not descend from %v and %v", ab, a, b)
		}
		if a.Descends(b) != ab.Equal(a) {
			t.Fatalf("a=%v Descends b=%v is %v, but a.Merge(b)=%v", a, b, a.Descends(b), ab)
		}
		for _, actor := range ab.Actors() {
			if ab.Get(actor) != max(a.Get(actor), b.Get(actor)) {
				t.Fatalf("Merge(%v, %v)[%q] = %d", a, b, actor, ab.Get(actor))
			}
		}
	})
}
