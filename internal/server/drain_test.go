package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownDoesNotWaitForConnectionsThatSentNothing: a connection that
// was opened but has sent no request (an HTTP/1.1 client's spare dial)
// does not hold up the drain; a request in flight still would.
func TestShutdownDoesNotWaitForConnectionsThatSentNothing(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- serveHTTP(ctx, lis, listenerConfig{
			name: "test", handler: http.NotFoundHandler(), log: slog.New(slog.DiscardHandler),
			// Shorter than the 5 s after which http.Server.Shutdown gives up
			// on a connection that sent nothing: without closing it, the
			// drain runs out.
			limits: DefaultPeerLimits(), drain: 3 * time.Second,
		})
	}()
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Connections are accepted in order: once a request on a second
	// connection is answered, the first has been accepted too.
	if res, err := http.Get("http://" + lis.Addr().String() + "/"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown with a connection that sent nothing: %v, want a clean drain", err)
	}
}
