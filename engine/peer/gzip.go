package peer

import (
	"compress/gzip"

	"connectrpc.com/connect"
)

// The peer service's gzip, at both ends, is deflate at its fastest level
// instead of connect's default (level 6). The messages it compresses are
// transfer batches and Merkle exchanges (CompressMinBytes), mostly values
// that shrink little at any level, and at level 6 the deflate search was
// over half the CPU a sending node spent on a handoff (docs/performance.md,
// session 15). The wire format is gzip's either way, so either end reads
// the other's messages whatever level it sends at.
func newFastGzip() connect.Compressor {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}

func newGunzip() connect.Decompressor { return &gzip.Reader{} }

var (
	clientGzip  = connect.WithAcceptCompression("gzip", newGunzip, newFastGzip)
	handlerGzip = connect.WithCompression("gzip", newGunzip, newFastGzip)
)
