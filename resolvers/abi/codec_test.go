package abi_test

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/resolvers/abi"
)

func genInput() *rapid.Generator[abi.Input] {
	return rapid.Custom(func(t *rapid.T) abi.Input {
		sib := rapid.Custom(func(t *rapid.T) abi.Sibling {
			return abi.Sibling{
				Value:     rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "value"),
				Tombstone: rapid.Bool().Draw(t, "tombstone"),
				Timestamp: rapid.Int64().Draw(t, "timestamp"),
			}
		})
		return abi.Input{
			Namespace: rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,62}`).Draw(t, "namespace"),
			Key:       rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "key"),
			Siblings:  rapid.SliceOfN(sib, 0, 8).Draw(t, "siblings"),
		}
	})
}

// equalInput compares two inputs treating nil and empty slices as equal.
func equalInput(a, b abi.Input) bool {
	if a.Namespace != b.Namespace || !bytes.Equal(a.Key, b.Key) || len(a.Siblings) != len(b.Siblings) {
		return false
	}
	for i := range a.Siblings {
		x, y := a.Siblings[i], b.Siblings[i]
		if x.Tombstone != y.Tombstone || x.Timestamp != y.Timestamp || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := genInput().Draw(t, "input")
		frame := abi.EncodeInput(in)
		if len(frame) != abi.EncodedLen(in) {
			t.Fatalf("EncodedLen = %d, frame is %d bytes", abi.EncodedLen(in), len(frame))
		}
		out, err := abi.DecodeInput(frame)
		if err != nil {
			t.Fatalf("DecodeInput(EncodeInput(x)): %v", err)
		}
		if !equalInput(in, out) {
			t.Fatalf("round trip changed the input:\n in: %+v\nout: %+v", in, out)
		}
		// AppendInput appends after existing bytes.
		prefix := []byte("xyz")
		if got := abi.AppendInput(prefix, in); !bytes.Equal(got[3:], frame) || string(got[:3]) != "xyz" {
			t.Fatalf("AppendInput did not append the frame")
		}
	})
}

// TestEncodeLayout pins the byte layout documented in ABI.md.
func TestEncodeLayout(t *testing.T) {
	t.Parallel()
	got := abi.EncodeInput(abi.Input{
		Namespace: "ns",
		Key:       []byte("k"),
		Siblings: []abi.Sibling{
			{Value: []byte("ab"), Timestamp: 0x0102030405060708},
			{Tombstone: true, Timestamp: -1},
		},
	})
	want := []byte{
		1,              // version
		2, 0, 'n', 's', // namespace
		1, 0, 0, 0, 'k', // key
		2, 0, 0, 0, // sibling count
		0, 8, 7, 6, 5, 4, 3, 2, 1, 2, 0, 0, 0, 'a', 'b', // sibling 0
		1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // sibling 1
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame\n got % x\nwant % x", got, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := abi.EncodeInput(abi.Input{Namespace: "ns", Key: []byte("k"), Siblings: []abi.Sibling{{Value: []byte("v")}}})
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{2}, valid[1:]...)},
		{"truncated", valid[:len(valid)-1]},
		{"trailing byte", append(append([]byte{}, valid...), 0)},
		{"unknown flag", func() []byte {
			b := append([]byte{}, valid...)
			b[1+2+2+4+1+4] = 0x02
			return b
		}()},
		{"huge sibling count", []byte{1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{"huge key length", []byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{"huge value length", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := abi.DecodeInput(tt.frame)
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("DecodeInput = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for s, name := range map[abi.Status]string{
		abi.StatusOK: "OK", abi.StatusDelete: "DELETE", abi.StatusDefer: "DEFER", abi.StatusError: "ERROR", 7: "Status(7)", -1: "Status(-1)",
	} {
		if s.String() != name {
			t.Errorf("Status(%d).String() = %q, want %q", int32(s), s.String(), name)
		}
		if want := name != "Status(7)" && name != "Status(-1)"; s.Valid() != want {
			t.Errorf("Status(%d).Valid() = %v, want %v", int32(s), s.Valid(), want)
		}
	}
}

// FuzzDecodeInput checks that DecodeInput never panics and that every frame
// it accepts is canonical: re-encoding gives back the same bytes.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte{})
	f.Add(abi.EncodeInput(abi.Input{}))
	f.Add(abi.EncodeInput(abi.Input{Namespace: "cart", Key: []byte("user:1"), Siblings: []abi.Sibling{
		{Value: []byte(`{"apple":1}`), Timestamp: 1}, {Tombstone: true, Timestamp: 2},
	}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		in, err := abi.DecodeInput(frame)
		if err != nil {
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if again := abi.EncodeInput(in); !bytes.Equal(again, frame) {
			t.Fatalf("accepted frame is not canonical:\n in % x\nout % x", frame, again)
		}
	})
}
