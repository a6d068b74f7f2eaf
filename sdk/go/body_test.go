package concord_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	concord "github.com/concord-kv/concord/sdk/go"
)

// TestCallInOneWrite: over HTTP/1.1 a call goes out in one write, headers
// and body together, even through an HTTP client given by WithHTTPClient
// (net/http alone writes Connect's request body apart from its headers).
func TestCallInOneWrite(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/proto") // an empty PutResponse
	}))
	t.Cleanup(srv.Close)
	var writes atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, &writes}, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := concord.New(srv.URL, concord.WithHTTPClient(&http.Client{Transport: tr}))
	const calls = 5
	for range calls {
		if _, err := c.Put(t.Context(), []byte("k"), make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes.Load(); n != calls {
		t.Errorf("%d calls took %d writes, want %d", calls, n, calls)
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
