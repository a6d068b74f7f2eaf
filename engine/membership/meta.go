package membership

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// MaxMetaSize is the largest encoded [Meta] memberlist can gossip.
const MaxMetaSize = memberlist.MetaMaxSize

// metaFormat is the first byte of an encoded Meta.
const metaFormat byte = 1

// Meta is the metadata a node gossips about itself: where its peer RPC and
// client API listen, and its failure zone (used by placement). It travels in
// every memberlist alive message, so it is encoded compactly and must fit in
// [MaxMetaSize] bytes.
type Meta struct {
	PeerAddr string // host:port of the peer RPC listener
	APIAddr  string // host:port of the client API listener
	Zone     string // failure zone; empty means "no zone"
}

// MarshalBinary encodes m as a format byte followed by three
// length-prefixed (uvarint) strings. It fails with [ErrMetaTooLarge] if the
// result exceeds [MaxMetaSize].
func (m Meta) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen16+len(m.PeerAddr)+len(m.APIAddr)+len(m.Zone))
	b = append(b, metaFormat)
	for _, s := range []string{m.PeerAddr, m.APIAddr, m.Zone} {
		b = appendString(b, s)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, len(b), MaxMetaSize)
	}
	return b, nil
}

// UnmarshalBinary decodes what [Meta.MarshalBinary] produced. Unknown
// trailing fields (from a newer encoder) are ignored.
func (m *Meta) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		*m = Meta{}
		return nil
	}
	if b[0] != metaFormat {
		return fmt.Errorf("membership: unknown meta format %d", b[0])
	}
	r := reader{buf: b[1:]}
	out := Meta{PeerAddr: r.string(), APIAddr: r.string(), Zone: r.string()}
	if r.err != nil {
		return fmt.Errorf("membership: decode meta: %w", r.err)
	}
	*m = out
	return nil
}
