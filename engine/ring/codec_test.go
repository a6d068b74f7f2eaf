package ring_test

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/ring"
)

func TestEncodingRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		q := rapid.SampledFrom([]int{1, 2, 64, 256}).Draw(t, "q")
		k := rapid.IntRange(1, min(q, 9)).Draw(t, "k")
		ms := nodes(0, k)
		for i := range ms {
			ms[i].Zone = rapid.SampledFrom([]string{"", "a", "b"}).Draw(t, "zone")
		}
		r := mustNew(t, q, ms, rapid.IntRange(1, 4).Draw(t, "n"))
		if rapid.Bool().Draw(t, "rebalance") {
			var err error
			if r, err = ring.Rebalance(r, ms[:max(1, k-1)], 2); err != nil {
				t.Fatal(err)
			}
		}
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got ring.Ring
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
		if !got.Equal(r) || ring.Compare(got, r) != 0 {
			t.Fatal("round trip changed the ring")
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("encoding is not deterministic")
		}
	})
}

func TestUnmarshalRejects(t *testing.T) {
	t.Parallel()
	good, err := mustNew(t, 4, nodes(0, 2), 2).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// good = 01 01 02 02 [07 node-00 00] [07 node-01 00] owners×4
	tests := map[string][]byte{
		"empty":              {},
		"version":            append([]byte{2}, good[1:]...),
		"truncated":          good[:len(good)-1],
		"trailing":           append(append([]byte{}, good...), 0),
		"log2 Q too large":   {1, 1, 17, 0},
		"no members":         {1, 1, 0, 0, 0},
		"owner out of range": append(append([]byte{}, good[:len(good)-1]...), 2),
		"non-minimal varint": append(append([]byte{}, good[:len(good)-1]...), 0x81, 0x00),
		"unsorted members":   {1, 1, 0, 2, 1, 'b', 0, 1, 'a', 0, 0},
		"huge member count":  {1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range tests {
		var r ring.Ring
		if err := r.UnmarshalBinary(b); !errors.Is(err, ring.ErrMalformed) {
			t.Errorf("%s: UnmarshalBinary(%x) = %v, want ErrMalformed", name, b, err)
		}
		if r.Q() != 0 {
			t.Errorf("%s: the receiver was modified", name)
		}
	}
}
