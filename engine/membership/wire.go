package membership

import (
	"encoding/binary"
	"errors"
)

// Message types carried in memberlist user messages (broadcasts).
const (
	msgDoc      byte = 1 // a whole document: doc
	msgAnnounce byte = 2 // a document too large to broadcast: name, version, sum, holder
	msgLeave    byte = 3 // a node's intent to leave: node ID
	msgWant     byte = 4 // a request for a document, sent to its holder over TCP: name, requester's node ID
)

// stateFormat is the first byte of the push/pull state (LocalState).
const stateFormat byte = 1

var errShort = errors.New("truncated message")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendDoc(b []byte, d Doc) []byte {
	b = appendString(b, d.Name)
	b = binary.AppendUvarint(b, d.Version)
	return appendBytes(b, d.Data)
}

func encodeDocMsg(d Doc) []byte {
	return appendDoc([]byte{msgDoc}, d)
}

// announce says "holder has document name at version with sha256 sum".
type announce struct {
	name    string
	version uint64
	sum     [32]byte
	holder  string
}

func encodeAnnounce(a announce) []byte {
	b := []byte{msgAnnounce}
	b = appendString(b, a.name)
	b = binary.AppendUvarint(b, a.version)
	b = append(b, a.sum[:]...)
	return appendString(b, a.holder)
}

func encodeWant(name, from string) []byte {
	return appendString(appendString([]byte{msgWant}, name), from)
}

func encodeLeave(id string) []byte {
	return appendString([]byte{msgLeave}, id)
}

// pushState is what a node sends in a push/pull: its whole document set
// and the IDs of the members it knows have left (so that a node that missed
// a leave notice stops treating the member as failed).
type pushState struct {
	docs []Doc
	left []string
}

func encodeState(st pushState) []byte {
	size := 1 + 2*binary.MaxVarintLen64
	for _, d := range st.docs {
		size += len(d.Name) + len(d.Data) + 3*binary.MaxVarintLen64
	}
	for _, id := range st.left {
		size += len(id) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, stateFormat)
	b = binary.AppendUvarint(b, uint64(len(st.docs)))
	for _, d := range st.docs {
		b = appendDoc(b, d)
	}
	b = binary.AppendUvarint(b, uint64(len(st.left)))
	for _, id := range st.left {
		b = appendString(b, id)
	}
	return b
}

func decodeState(b []byte) (pushState, error) {
	var st pushState
	if len(b) == 0 {
		return st, nil
	}
	if b[0] != stateFormat {
		return st, errors.New("unknown state format")
	}
	r := reader{buf: b[1:]}
	n := r.count()
	st.docs = make([]Doc, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		st.docs = append(st.docs, r.doc())
	}
	if r.err != nil || len(r.buf) == 0 { // the left list is optional
		return st, r.err
	}
	n = r.count()
	for i := 0; i < n && r.err == nil; i++ {
		st.left = append(st.left, r.string())
	}
	return st, r.err
}

// reader decodes the encodings above; the first error sticks.
type reader struct {
	buf []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// count reads a number of items, each of which takes at least one byte.
func (r *reader) count() int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.buf)) {
		r.err = errShort
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.buf)) {
		r.err = errShort
		return nil
	}
	p := r.buf[:n:n]
	r.buf = r.buf[n:]
	return p
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) fixed(p []byte) {
	if r.err != nil {
		return
	}
	if len(r.buf) < len(p) {
		r.err = errShort
		return
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
}

// doc decodes a document, copying its data out of the (reused) buffer.
func (r *reader) doc() Doc {
	name := r.string()
	version := r.uvarint()
	data := r.bytes()
	return Doc{Name: name, Version: version, Data: append([]byte(nil), data...)}
}

func (r *reader) announce() announce {
	a := announce{name: r.string(), version: r.uvarint()}
	r.fixed(a.sum[:])
	a.holder = r.string()
	return a
}
