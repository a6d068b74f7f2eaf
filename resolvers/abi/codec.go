package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed is wrapped by every error [DecodeInput] returns.
var ErrMalformed = errors.New("abi: malformed input frame")

// Fixed sizes of the frame's parts, in bytes.
const (
	headerFixedLen  = 1 + 2 + 4 + 4 // version, namespace len, key len, sibling count
	siblingFixedLen = 1 + 8 + 4     // flags, timestamp, value len
)

// EncodedLen returns the size of the frame [EncodeInput] produces for in.
func EncodedLen(in Input) int {
	n := headerFixedLen + len(in.Namespace) + len(in.Key) + siblingFixedLen*len(in.Siblings)
	for _, s := range in.Siblings {
		n += len(s.Value)
	}
	return n
}

// EncodeInput returns the ABI v1 input frame of in.
//
// It panics if in cannot be represented: a namespace longer than
// [MaxNamespaceLen] bytes, or a key, value or sibling count of 4 GiB or
// more. Namespaces and keys are validated long before they reach a resolver,
// so this is a programming error, not an input error.
func EncodeInput(in Input) []byte {
	return AppendInput(make([]byte, 0, EncodedLen(in)), in)
}

// AppendInput appends the frame of in to dst and returns the extended slice.
// It panics under the same conditions as [EncodeInput].
func AppendInput(dst []byte, in Input) []byte {
	if len(in.Namespace) > MaxNamespaceLen {
		panic(fmt.Sprintf("abi: namespace of %d bytes exceeds %d", len(in.Namespace), MaxNamespaceLen))
	}
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(in.Namespace)))
	dst = append(dst, in.Namespace...)
	dst = binary.LittleEndian.AppendUint32(dst, u32len("key", len(in.Key)))
	dst = append(dst, in.Key...)
	dst = binary.LittleEndian.AppendUint32(dst, u32len("sibling count", len(in.Siblings)))
	for _, s := range in.Siblings {
		var flags byte
		if s.Tombstone {
			flags |= FlagTombstone
		}
		dst = append(dst, flags)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Timestamp))
		dst = binary.LittleEndian.AppendUint32(dst, u32len("value", len(s.Value)))
		dst = append(dst, s.Value...)
	}
	return dst
}

func u32len(what string, n int) uint32 {
	if uint64(n) > math.MaxUint32 {
		panic(fmt.Sprintf("abi: %s of %d does not fit in a u32", what, n))
	}
	return uint32(n)
}

// DecodeInput parses an ABI v1 input frame.
//
// The Key and every Value of the result alias b (no copies are made, which
// keeps guests fast); copy them if b is reused. An empty key or value may
// decode as nil or as an empty slice: test it with len, not against nil.
//
// Any frame that is not exactly one well-formed v1 frame (wrong version,
// truncated, trailing bytes, unknown flag bits, counts larger than the bytes
// left could hold) yields an error wrapping [ErrMalformed]. DecodeInput never
// panics and never allocates more than a constant factor of len(b).
func DecodeInput(b []byte) (Input, error) {
	d := decoder{b: b}
	var in Input
	if v := d.u8("version"); d.err == nil && v != Version {
		return Input{}, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, Version)
	}
	nsLen := int(d.u16("namespace length"))
	in.Namespace = string(d.take("namespace", nsLen))
	keyLen := d.u32("key length")
	in.Key = d.take("key", keyLen)
	count := d.u32("sibling count")
	if d.err != nil {
		return Input{}, d.err
	}
	// Cap the count by what the remaining bytes can hold before allocating.
	if count > d.remaining()/siblingFixedLen {
		return Input{}, fmt.Errorf("%w: sibling count %d exceeds what %d remaining bytes can hold", ErrMalformed, count, d.remaining())
	}
	if count > 0 {
		in.Siblings = make([]Sibling, count)
	}
	for i := range in.Siblings {
		s := &in.Siblings[i]
		flags := d.u8("sibling flags")
		if d.err == nil && flags&^FlagTombstone != 0 {
			return Input{}, fmt.Errorf("%w: sibling %d has unknown flag bits %#02x", ErrMalformed, i, flags&^FlagTombstone)
		}
		s.Tombstone = flags&FlagTombstone != 0
		s.Timestamp = int64(d.u64("sibling timestamp"))
		s.Value = d.take("sibling value", d.u32("sibling value length"))
		if d.err != nil {
			return Input{}, fmt.Errorf("sibling %d: %w", i, d.err)
		}
	}
	if d.err != nil {
		return Input{}, d.err
	}
	if r := d.remaining(); r != 0 {
		return Input{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r)
	}
	return in, nil
}

// decoder reads little-endian fields and remembers the first error, so the
// decode function reads top to bottom like the frame layout.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) take(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.err = fmt.Errorf("%w: %s needs %d bytes, %d left", ErrMalformed, what, n, d.remaining())
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(what string) byte {
	if p := d.take(what, 1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if p := d.take(what, 2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

// u32 returns the field as an int; on 32-bit platforms a value above
// MaxInt is reported as an error instead of wrapping.
func (d *decoder) u32(what string) int {
	p := d.take(what, 4)
	if p == nil {
		return 0
	}
	v := binary.LittleEndian.Uint32(p)
	if uint64(v) > math.MaxInt {
		d.err = fmt.Errorf("%w: %s %d too large", ErrMalformed, what, v)
		return 0
	}
	return int(v)
}

func (d *decoder) u64(what string) uint64 {
	if p := d.take(what, 8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}
