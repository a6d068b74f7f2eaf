package dvv

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// formatVersion is the first byte of every encoded Object and Clock.
//
// Format 1, all integers unsigned varints unless said otherwise:
//
//	object  = version(0x01) count(entries) entry*
//	entry   = len(actor) actor counter count(values) value*   // values newest first
//	value   = flags(1 byte: 0x01 = tombstone) zigzag-varint(timestamp) len(bytes) bytes
//	context = version(0x01) count(entries) (len(actor) actor counter)*
//
// Actors are non-empty and strictly ascending, counters are >= 1, an entry
// holds at most counter values, varints are minimal and nothing trails: every
// accepted input is the one canonical encoding of what it decodes to.
const formatVersion = 1

const (
	minEntryBytes      = 4 // len(actor), 1 byte of actor, counter, count(values)
	minValueBytes      = 3 // flags, timestamp, len(bytes)
	minClockEntryBytes = 3 // len(actor), 1 byte of actor, counter
	flagTombstone      = 0x01
)

// MarshalBinary encodes o in format version 1 (see [Unmarshal]). It never
// fails.
func (o Object) MarshalBinary() ([]byte, error) {
	return o.AppendBinary(make([]byte, 0, o.encodedLen()))
}

// AppendBinary appends the encoding of o to b, as [Object.MarshalBinary]. It
// never fails.
func (o Object) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formatVersion)
	b = binary.AppendUvarint(b, uint64(len(o.entries)))
	for _, e := range o.entries {
		b = appendString(b, e.actor)
		b = binary.AppendUvarint(b, e.counter)
		b = binary.AppendUvarint(b, uint64(len(e.values)))
		for _, v := range e.values {
			var flags byte
			if v.Tombstone {
				flags |= flagTombstone
			}
			b = append(b, flags)
			b = binary.AppendVarint(b, v.Timestamp)
			b = binary.AppendUvarint(b, uint64(len(v.Value)))
			b = append(b, v.Value...)
		}
	}
	return b, nil
}

func (o Object) encodedLen() int {
	n := 1 + uvarintLen(uint64(len(o.entries)))
	for _, e := range o.entries {
		n += uvarintLen(uint64(len(e.actor))) + len(e.actor) + uvarintLen(e.counter) + uvarintLen(uint64(len(e.values)))
		for _, v := range e.values {
			n += 1 + uvarintLen(uint64(v.Timestamp<<1)^uint64(v.Timestamp>>63)) + uvarintLen(uint64(len(v.Value))) + len(v.Value)
		}
	}
	return n
}

// Unmarshal decodes an Object encoded by [Object.MarshalBinary]. Malformed
// input (including the empty input and an unknown format version) yields an
// error wrapping [ErrBadObject]; Unmarshal never panics, and never allocates
// for more entries or values than the input could hold. The result does not
// alias b.
func Unmarshal(b []byte) (Object, error) {
	if len(b) == 0 {
		return Object{}, malformed(ErrBadObject, "", errEmpty)
	}
	if b[0] != formatVersion {
		return Object{}, malformed(ErrBadObject, "", errVersion)
	}
	// One copy of the input backs every value, so that the caller may reuse b.
	r := reader{b: append([]byte(nil), b[1:]...)}
	n, err := r.count(minEntryBytes)
	if err != nil {
		return Object{}, malformed(ErrBadObject, "entry count", err)
	}
	entries := make([]entry, 0, n)
	for i := range n {
		e, err := r.entry()
		if err != nil {
			return Object{}, malformed(ErrBadObject, entryAt(i), err)
		}
		if i > 0 && entries[i-1].actor >= e.actor {
			return Object{}, malformed(ErrBadObject, entryAt(i), errOrder)
		}
		entries = append(entries, e)
	}
	if len(r.b) != 0 {
		return Object{}, malformed(ErrBadObject, "", errTrailing)
	}
	return Object{entries: entries}, nil
}

// EncodeContext encodes c as an opaque client token in format version 1. The
// zero Clock too encodes to a non-empty token.
func EncodeContext(c Clock) []byte {
	n := 1 + uvarintLen(uint64(len(c.entries)))
	for _, e := range c.entries {
		n += uvarintLen(uint64(len(e.actor))) + len(e.actor) + uvarintLen(e.counter)
	}
	b := make([]byte, 0, n)
	b = append(b, formatVersion)
	b = binary.AppendUvarint(b, uint64(len(c.entries)))
	for _, e := range c.entries {
		b = appendString(b, e.actor)
		b = binary.AppendUvarint(b, e.counter)
	}
	return b
}

// DecodeContext decodes a token made by [EncodeContext]. A nil or empty token
// means "no context" and yields the zero Clock. Malformed input, including a
// counter above [MaxCounter], yields an error wrapping [ErrBadContext];
// DecodeContext never panics.
func DecodeContext(b []byte) (Clock, error) {
	if len(b) == 0 {
		return Clock{}, nil
	}
	if b[0] != formatVersion {
		return Clock{}, malformed(ErrBadContext, "", errVersion)
	}
	r := reader{b: b[1:]}
	n, err := r.count(minClockEntryBytes)
	if err != nil {
		return Clock{}, malformed(ErrBadContext, "entry count", err)
	}
	es := make([]clockEntry, 0, n)
	for i := range n {
		actor, err := r.actor()
		if err != nil {
			return Clock{}, malformed(ErrBadContext, entryAt(i), err)
		}
		if i > 0 && es[i-1].actor >= actor {
			return Clock{}, malformed(ErrBadContext, entryAt(i), errOrder)
		}
		counter, err := r.counter()
		if err != nil {
			return Clock{}, malformed(ErrBadContext, entryAt(i), err)
		}
		if counter > MaxCounter {
			return Clock{}, malformed(ErrBadContext, entryAt(i), errBigCounter)
		}
		es = append(es, clockEntry{actor: actor, counter: counter})
	}
	if len(r.b) != 0 {
		return Clock{}, malformed(ErrBadContext, "", errTrailing)
	}
	return Clock{entries: es}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// reader consumes a canonical encoding. Its errors are wrapped by the
// decoders in the sentinel of what is decoded.
type reader struct{ b []byte }

// decodeError says what is wrong with an input. The package uses strconv and
// no fmt, so that it does not depend on os even indirectly.
type decodeError string

func (e decodeError) Error() string { return string(e) }

// malformedError is an error of a decoder: kind is ErrBadObject or
// ErrBadContext, where locates the fault, reason says what it is.
type malformedError struct {
	kind, reason error
	where        string
}

func malformed(kind error, where string, reason error) error {
	return &malformedError{kind: kind, reason: reason, where: where}
}

func (e *malformedError) Error() string {
	if e.where == "" {
		return e.kind.Error() + ": " + e.reason.Error()
	}
	return e.kind.Error() + ": " + e.where + ": " + e.reason.Error()
}

func (e *malformedError) Unwrap() []error { return []error{e.kind, e.reason} }

func entryAt(i uint64) string { return "entry " + strconv.FormatUint(i, 10) }

const (
	errEmpty        = decodeError("empty input")
	errVersion      = decodeError("unknown format version")
	errTrailing     = decodeError("trailing bytes")
	errOrder        = decodeError("actors not strictly ascending")
	errBigCounter   = decodeError("counter above MaxCounter")
	errTruncated    = decodeError("truncated")
	errVarint       = decodeError("malformed or non-minimal varint")
	errTooMany      = decodeError("count exceeds the input size")
	errEmptyActor   = decodeError("empty actor")
	errZeroCounter  = decodeError("zero counter")
	errTooManyVals  = decodeError("more values than the counter")
	errUnknownFlags = decodeError("unknown value flags")
)

func (r *reader) uvarint() (uint64, error) {
	x, n := binary.Uvarint(r.b)
	if n == 0 {
		return 0, errTruncated
	}
	if n < 0 || n != uvarintLen(x) {
		return 0, errVarint
	}
	r.b = r.b[n:]
	return x, nil
}

// count reads a count of items that each take at least minBytes of input.
func (r *reader) count(minBytes int) (uint64, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)/minBytes) {
		return 0, errTooMany
	}
	return n, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, errTruncated
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) actor() (string, error) {
	a, err := r.bytes()
	if err != nil {
		return "", err
	}
	if len(a) == 0 {
		return "", errEmptyActor
	}
	return string(a), nil
}

func (r *reader) counter() (uint64, error) {
	c, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if c == 0 {
		return 0, errZeroCounter
	}
	return c, nil
}

func (r *reader) entry() (entry, error) {
	actor, err := r.actor()
	if err != nil {
		return entry{}, err
	}
	counter, err := r.counter()
	if err != nil {
		return entry{}, err
	}
	n, err := r.count(minValueBytes)
	if err != nil {
		return entry{}, err
	}
	if n > counter {
		return entry{}, errTooManyVals
	}
	var values []Sibling
	if n > 0 {
		values = make([]Sibling, 0, n)
	}
	for range n {
		v, err := r.value()
		if err != nil {
			return entry{}, err
		}
		values = append(values, v)
	}
	return entry{actor: actor, counter: counter, values: values}, nil
}

func (r *reader) value() (Sibling, error) {
	if len(r.b) == 0 {
		return Sibling{}, errTruncated
	}
	flags := r.b[0]
	if flags&^flagTombstone != 0 {
		return Sibling{}, errUnknownFlags
	}
	r.b = r.b[1:]
	zz, err := r.uvarint()
	if err != nil {
		return Sibling{}, err
	}
	ts := int64(zz >> 1)
	if zz&1 != 0 {
		ts = ^ts
	}
	v, err := r.bytes()
	if err != nil {
		return Sibling{}, err
	}
	return Sibling{Value: v, Tombstone: flags&flagTombstone != 0, Timestamp: ts}, nil
}
