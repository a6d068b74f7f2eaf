package ring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/ring"
)

func FuzzUnmarshalBinary(f *testing.F) {
	for _, r := range []ring.Ring{
		mustNew(f, 1, nodes(0, 1), 1),
		mustNew(f, 8, nodes(0, 3), 2),
		mustNew(f, 64, zoned(3, 2), 2),
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 16, 1, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ring.Ring
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ring.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded an invalid ring: %v", err)
		}
		out, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted a non-canonical encoding: %x re-encodes as %x (%v)", b, out, err)
		}
		for p := range r.Q() {
			_ = r.PreferenceList(p, 3)
		}
	})
}
