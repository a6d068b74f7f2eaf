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

func encodeLeave(id string) []byte {
	return appendString([]byte{msgLeave}, id)
}

// encodeState encodes a full document set for push/pull.
func encodeState(docs []Doc) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, d := range docs {
		size += len(d.Name) + len(d.Data) + 3*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, stateFormat)
	b = binary.AppendUvarint(b, uint64(len(docs)))
	for _, d := range docs {
		b = appendDoc(b, d)
	}
	return b
}

func decodeState(b []byte) ([]Doc, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != stateFormat {
		return nil, errors.New("unknown state format")
	}
	r := reader{buf: b[1:]}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.buf)) { // every doc takes ≥ 1 byte
		return nil, errShort
	}
	docs := make([]Doc, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		docs = append(docs, r.doc())
	}
	return docs, r.err
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
