package server

import (
	"net/http"
	"strings"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

const (
	// requestEnvelope is the room a request needs beside a value: the key
	// (at most the key ceiling), the context, the other fields and the
	// protocol's framing.
	requestEnvelope = meta.CeilingKeySize + 64<<10
	// maxRequestBytes is the most any client API request may be, on the
	// wire or decompressed: the largest value any namespace may allow
	// plus the envelope, as base64 in JSON (4/3 larger).
	maxRequestBytes = (meta.CeilingValueSize+requestEnvelope)*4/3 + 64<<10
)

// bodyLimit is how many bytes of r's body the client API reads at most,
// decided from the headers alone, before a byte of the body is read:
//
//   - KV Put: the largest max_value_bytes of any namespace that exists,
//     plus the envelope. The namespace a Put names is inside the body, so
//     the namespace's own limit is checked once the message is decoded
//     (errs.LimitError, RESOURCE_EXHAUSTED); until then a Put cannot be
//     larger than the most generous namespace allows.
//   - resolver uploads and tests (they carry a module): maxRequestBytes.
//   - anything else (other KV calls, the other admin calls, health): the
//     envelope, which holds a key, a context and settings.
//
// Text encodings (JSON, gRPC-Web text) carry bytes as base64, so their
// limit is 4/3 larger. The limit is on the bytes read off the wire;
// Connect's read limit (maxRequestBytes) bounds a compressed body's
// decompressed size.
func (s *Server) bodyLimit(r *http.Request) int64 {
	var limit int64
	switch r.URL.Path {
	case kvv1connect.KVServicePutProcedure:
		limit = int64(s.node.LargestValue()) + requestEnvelope
	case adminv1connect.AdminServiceUploadResolverProcedure, adminv1connect.AdminServiceTestResolverProcedure:
		return maxRequestBytes
	default:
		limit = requestEnvelope
	}
	if textEncoded(r.Header.Get("Content-Type")) {
		limit = limit * 4 / 3
	}
	return min(limit, maxRequestBytes)
}

// textEncoded reports whether a content type carries bytes as base64.
func textEncoded(contentType string) bool {
	return strings.Contains(contentType, "json") || strings.Contains(contentType, "grpc-web-text")
}
