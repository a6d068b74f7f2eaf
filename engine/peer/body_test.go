package peer

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestInMemoryBodiesOneWrite: a request whose body net/http cannot tell
// is in memory goes out in two writes (headers, then body); through
// inMemoryBodies it goes out in one, with the same body.
func TestInMemoryBodiesOneWrite(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) }))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name   string
		wrap   bool
		writes int64
	}{{"as it comes", false, 2}, {"in memory", true, 1}} {
		var writes atomic.Int64
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			return countingConn{c, &writes}, err
		}}
		t.Cleanup(tr.CloseIdleConnections)
		var rt http.RoundTripper = tr
		if tc.wrap {
			rt = inMemoryBodies{tr}
		}
		want := bytes.Repeat([]byte("x"), 300)
		req, err := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(struct{ io.Reader }{bytes.NewReader(want)}))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(want))
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: echoed %d bytes (%v), want the %d sent", tc.name, len(got), err, len(want))
		}
		if n := writes.Load(); n != tc.writes {
			t.Errorf("%s: the request took %d writes, want %d", tc.name, n, tc.writes)
		}
	}
}

// countingConn counts the writes on a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
