package dvv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

// enc builds an encoding by hand: an int or uint64 is written as a uvarint, a
// string as a length-prefixed string, a []byte as is.
func enc(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = binary.AppendUvarint(b, uint64(p))
		case uint64:
			b = binary.AppendUvarint(b, p)
		case string:
			b = binary.AppendUvarint(b, uint64(len(p)))
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		default:
			panic("enc: unsupported part")
		}
	}
	return b
}

func raw(b ...byte) []byte { return b }

func TestUnmarshalRejectsMalformed(t *testing.T) {
	t.Parallel()
	value := func(flags byte, v string) []byte { return enc(raw(flags), 0, v) }
	tests := map[string][]byte{
		"nil":                       nil,
		"empty":                     {},
		"unknown version":           enc(raw(2), 0),
		"version zero":              enc(raw(0), 0),
		"no count":                  raw(1),
		"count beyond input":        enc(raw(1), 1),
		"huge count":                enc(raw(1), uint64(math.MaxUint64)),
		"overlong varint":           raw(1, 0x80, 0x00),
		"varint overflow":           raw(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"trailing byte":             enc(raw(1), 0, raw(0)),
		"empty actor":               enc(raw(1), 1, "", 1, 0, raw(0, 0)),
		"zero counter":              enc(raw(1), 1, "a", 0, 0, raw(0, 0)),
		"more values than counter":  enc(raw(1), 1, "a", 1, 2, value(0, "x"), value(0, "y")),
		"value count beyond input":  enc(raw(1), 1, "a", 9, 9, value(0, "x")),
		"unknown flags":             enc(raw(1), 1, "a", 1, 1, value(2, "x")),
		"value beyond input":        enc(raw(1), 1, "a", 1, 1, raw(0, 0), 9, "xy"),
		"truncated value":           enc(raw(1), 1, "a", 1, 1, raw(0)),
		"actors out of order":       enc(raw(1), 2, "b", 1, 0, "a", 1, 0),
		"duplicate actor":           enc(raw(1), 2, "a", 1, 0, "a", 2, 0),
		"actor length beyond input": enc(raw(1), 1, 200, "a"),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if o, err := dvv.Unmarshal(b); !errors.Is(err, dvv.ErrBadObject) {
				t.Fatalf("Unmarshal(%x) = %v, %v; want ErrBadObject", b, o.Dots(), err)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want []string
	}{
		{"zero object", enc(raw(1), 0), nil},
		{"actor with no live value", enc(raw(1), 1, "a", 3, 0), nil},
		{"values newest first", enc(raw(1), 1, "a", 5, 2, raw(0), 2, "v5", raw(1), 1, ""), []string{"†@a:4", "v5@a:5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := dvv.Unmarshal(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(o); !slices.Equal(got, tt.want) {
				t.Errorf("siblings = %q, want %q", got, tt.want)
			}
			if b, _ := o.MarshalBinary(); !bytes.Equal(b, tt.b) {
				t.Errorf("re-encoded as %x, want %x", b, tt.b)
			}
		})
	}
}

func TestDecodeContext(t *testing.T) {
	t.Parallel()
	ok := []struct {
		name string
		b    []byte
		want string
	}{
		{"nil means no context", nil, "{}"},
		{"empty means no context", []byte{}, "{}"},
		{"encoded zero clock", enc(raw(1), 0), "{}"},
		{"two actors", enc(raw(1), 2, "a", 1, "b", 300), "{a:1, b:300}"},
		{"MaxCounter", enc(raw(1), 1, "a", dvv.MaxCounter), "{a:4611686018427387904}"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dvv.DecodeContext(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != tt.want {
				t.Errorf("DecodeContext(%x) = %v, want %s", tt.b, c, tt.want)
			}
		})
	}
	bad := map[string][]byte{
		"unknown version":     enc(raw(2), 0),
		"version only":        raw(1),
		"count beyond input":  enc(raw(1), 5, "a", 1),
		"huge count":          enc(raw(1), uint64(math.MaxUint64)),
		"overlong varint":     raw(1, 0x80, 0x00),
		"trailing byte":       enc(raw(1), 0, raw(7)),
		"empty actor":         enc(raw(1), 1, "", 1, raw(0)),
		"zero counter":        enc(raw(1), 1, "a", 0),
		"counter too large":   enc(raw(1), 1, "a", dvv.MaxCounter+1),
		"actors out of order": enc(raw(1), 2, "b", 1, "a", 1),
		"duplicate actor":     enc(raw(1), 2, "a", 1, "a", 2),
		"truncated counter":   enc(raw(1), 1, "a", raw(0x80)),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c, err := dvv.DecodeContext(b); !errors.Is(err, dvv.ErrBadContext) {
				t.Fatalf("DecodeContext(%x) = %v, %v; want ErrBadContext", b, c, err)
			}
		})
	}
}

func TestEncodeZeroContext(t *testing.T) {
	t.Parallel()
	if b := dvv.EncodeContext(dvv.Clock{}); !bytes.Equal(b, []byte{1, 0}) {
		t.Fatalf("EncodeContext(zero) = %x, want 0100", b)
	}
}
