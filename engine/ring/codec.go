package ring

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// formatVersion is the first byte of an encoded Ring.
//
// Format 1, all integers unsigned varints:
//
//	ring   = version(0x01) epoch log2(Q) count(members) member* owner{Q}
//	member = len(id) id len(zone) zone
//	owner  = index of the owning member in the member list
//
// Members are sorted by ID and unique, owners index existing members,
// varints are minimal and nothing trails: every accepted input is the one
// canonical encoding of the ring it decodes to, so two rings are equal if
// and only if their encodings are.
const formatVersion = 1

// MarshalBinary encodes r (see [Ring.UnmarshalBinary] for the format). It
// fails only for a ring that does not pass [Ring.Validate].
func (r Ring) MarshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.appendBinary(nil), nil
}

func (r Ring) appendBinary(b []byte) []byte {
	b = append(b, formatVersion)
	b = binary.AppendUvarint(b, r.epoch)
	b = binary.AppendUvarint(b, uint64(max(0, bits.Len(uint(len(r.owners)))-1)))
	b = binary.AppendUvarint(b, uint64(len(r.members)))
	for _, m := range r.members {
		b = binary.AppendUvarint(b, uint64(len(m.ID)))
		b = append(b, m.ID...)
		b = binary.AppendUvarint(b, uint64(len(m.Zone)))
		b = append(b, m.Zone...)
	}
	for _, o := range r.owners {
		b = binary.AppendUvarint(b, uint64(o))
	}
	return b
}

// UnmarshalBinary decodes a ring encoded by [Ring.MarshalBinary] into r.
// Malformed or non-canonical input, or a ring that fails [Ring.Validate],
// yields an error wrapping [ErrMalformed] and leaves r unchanged. It never
// panics, never allocates more than the input can describe, and the result
// does not alias b.
func (r *Ring) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte(); v != formatVersion {
		if d.err == nil {
			d.fail("unknown format version %d", v)
		}
		return d.err
	}
	epoch := d.uvarint()
	logQ := d.uvarint()
	if d.err == nil && logQ > 16 {
		d.fail("log2(Q) = %d exceeds 16", logQ)
	}
	k := d.count(3) // two lengths and an ID byte at least
	var out Ring
	out.epoch = epoch
	out.members = make([]Member, 0, k)
	for range k {
		id := d.string()
		zone := d.string()
		out.members = append(out.members, Member{ID: NodeID(id), Zone: zone})
	}
	q := 0
	if d.err == nil {
		q = 1 << logQ
		if q > len(d.b) {
			d.fail("%d partitions but %d bytes left", q, len(d.b))
		}
	}
	if d.err != nil {
		return d.err
	}
	out.owners = make([]int32, q)
	for p := range out.owners {
		o := d.uvarint()
		if d.err == nil && o >= uint64(k) {
			d.fail("partition %d: owner %d of %d members", p, o, k)
		}
		if d.err != nil {
			return d.err
		}
		out.owners[p] = int32(o)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(out.appendBinary(make([]byte, 0, len(b))), b) {
		return fmt.Errorf("%w: not the canonical encoding", ErrMalformed)
	}
	*r = out
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least minBytes each, refusing
// counts the rest of the input cannot hold.
func (d *decoder) count(minBytes int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/minBytes) {
		d.fail("count %d exceeds the input", v)
	}
	if d.err != nil {
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("string of %d bytes, %d left", n, len(d.b))
	}
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Compare orders two versions of the ring: by epoch, then, for rings of the
// same epoch (concurrent edits), by their canonical encodings compared as
// bytes. It returns 0 only when a.Equal(b). Every node that sees the same two
// rings picks the same winner, so gossip converges.
func Compare(a, b Ring) int {
	switch {
	case a.epoch < b.epoch:
		return -1
	case a.epoch > b.epoch:
		return 1
	}
	return bytes.Compare(a.appendBinary(nil), b.appendBinary(nil))
}

// Newer is the winner of a and b under [Compare]: the higher epoch, ties
// broken deterministically.
func Newer(a, b Ring) Ring {
	if Compare(a, b) >= 0 {
		return a
	}
	return b
}
