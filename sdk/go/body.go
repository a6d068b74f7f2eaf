package concord

import (
	"bytes"
	"io"
	"net/http"

	"connectrpc.com/connect"
)

// inMemoryBodies sends each request through next with its body read into
// memory first. Connect gives a unary request's body as a reader of its
// own type, which net/http cannot tell is in memory, so over HTTP/1.1 it
// writes the headers in one syscall and the body in another; given a
// bytes.Reader it buffers both and sends the request in one, and the
// node reads it in one. Bodies over maxInMemoryBody, and requests without
// a known length, go as they came. (engine/peer does the same for calls
// between nodes.)
type inMemoryBodies struct{ next connect.HTTPClient }

// maxInMemoryBody is the largest body read first: net/http's write
// buffer, past which the body would not go out with the headers anyway.
const maxInMemoryBody = 4 << 10

func (c inMemoryBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > maxInMemoryBody {
		return c.next.Do(r)
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, body)
	if cerr := r.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	out := *r // the caller's request stays as it was
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c.next.Do(&out)
}
