package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
	"github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1/peerv1connect"
)

// The peer stream. The hot calls — Replicate, Read and ReadMany, one or
// more per client operation — travel as frames on one long-lived
// connection per pair of nodes instead of as Connect requests: a Connect
// call over HTTP/1.1 costs both nodes the parsing and writing of a dozen
// headers, and the client two goroutine handoffs inside net/http, on top
// of the socket writes; a frame costs the socket writes and a protobuf
// message. docs/performance.md has the measurements and design notes.
//
// The stream opens as an HTTP/1.1 Upgrade on the peer listener (so it
// shares its port, its TLS and mutual authentication, its connection
// limit) at [StreamPath], then carries frames both ways:
//
//	request:  length u32 | id u64 | method u8 | timeout µs u32 | message
//	answer:   length u32 | id u64 | status u8 | message
//
// Integers are big-endian; length counts the bytes after it. The message
// is the protobuf of the Connect call's request or response (the same
// concord.peer.v1 types), or, for status [statusError], an EngineError:
// errors cross exactly as they do over Connect (errors.go). Answers come in
// any order; the handler serves each request on its own goroutine (the
// stream's methods only touch local storage, so the request's timeout
// bounds the client's wait, not the handler's work; serveFrame).
//
// The stream is an optimisation, never a requirement: a client whose
// stream is not open yet, or whose peer does not offer one (a node of an
// older version answers the Upgrade with 404), calls over Connect. Other
// calls (Coordinate, Transfer, anti-entropy, …) always go over Connect.

// StreamPath is the HTTP path where the peer listener upgrades a
// connection to a peer stream.
const StreamPath = "/" + peerv1connect.PeerServiceName + "/Stream"

// streamProtocol is the Upgrade token of a peer stream, versioned.
const streamProtocol = "concord-peer-stream/1"

// A streamMethod names the call a request frame makes.
type streamMethod byte

const (
	methodReplicate streamMethod = 1
	methodRead      streamMethod = 2
	methodReadMany  streamMethod = 3
)

// Answer statuses.
const (
	statusOK    byte = 0
	statusError byte = 1 // the message is an EngineError
)

const (
	requestHeader = 4 + 8 + 1 + 4
	answerHeader  = 4 + 8 + 1
	// maxAnswerBytes bounds an answer frame a client accepts: a ReadMany
	// of MaxReadsPerRequest keys can carry large objects, but a length
	// beyond this is a broken stream, not an answer.
	maxAnswerBytes = 1 << 30
)

// A frame is one decoded frame: a request (method, timeout) or an answer
// (status), and its message.
type frame struct {
	id      uint64
	kind    byte // streamMethod of a request, status of an answer
	timeout time.Duration
	msg     []byte
}

// appendRequest appends a request frame of m to buf.
func appendRequest(buf []byte, id uint64, method streamMethod, timeout time.Duration, m proto.Message) ([]byte, error) {
	return appendFrame(buf, requestHeader, id, m, func(h []byte) {
		h[12] = byte(method)
		binary.BigEndian.PutUint32(h[13:], uint32(min(max(timeout.Microseconds(), 1), 1<<32-1)))
	})
}

// appendAnswer appends an answer frame of m to buf.
func appendAnswer(buf []byte, id uint64, status byte, m proto.Message) ([]byte, error) {
	return appendFrame(buf, answerHeader, id, m, func(h []byte) { h[12] = status })
}

// appendFrame appends a frame of m to buf with a header of size bytes:
// the length and the id, then what fill writes after them.
func appendFrame(buf []byte, size int, id uint64, m proto.Message, fill func(h []byte)) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, size)...)
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return nil, err
	}
	h := buf[start:]
	binary.BigEndian.PutUint32(h[0:], uint32(len(h)-4))
	binary.BigEndian.PutUint64(h[4:], id)
	fill(h)
	return buf, nil
}

var errFrame = errors.New("peer stream: malformed frame")

// readFrame reads one frame of a request (request) or an answer, at most
// maxBytes long.
func readFrame(r io.Reader, request bool, maxBytes int) (frame, error) {
	var h [requestHeader]byte
	n := answerHeader
	if request {
		n = requestHeader
	}
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return frame{}, err
	}
	size := int(binary.BigEndian.Uint32(h[:4]))
	if size < n-4 || size > maxBytes {
		return frame{}, fmt.Errorf("%w: %d bytes", errFrame, size)
	}
	if _, err := io.ReadFull(r, h[4:n]); err != nil {
		return frame{}, unexpected(err)
	}
	f := frame{id: binary.BigEndian.Uint64(h[4:]), kind: h[12], msg: make([]byte, size-(n-4))}
	if request {
		f.timeout = time.Duration(binary.BigEndian.Uint32(h[13:])) * time.Microsecond
	}
	if _, err := io.ReadFull(r, f.msg); err != nil {
		return frame{}, unexpected(err)
	}
	return f, nil
}

// unexpected turns the end of a stream inside a frame into an error.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encodeErrorMessage is the message of an error answer.
func encodeErrorMessage(err error) *peerv1.EngineError {
	_, w := toWire(err)
	return w
}
