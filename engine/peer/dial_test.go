package peer

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestPeerConnectionsCloseWithAReset: a peer connection the client closes
// ends with a reset, so requests the peer has not read yet are dropped
// (read fails with ECONNRESET) instead of served after the caller gave up.
func TestPeerConnectionsCloseWithAReset(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := dialResetting(t.Context(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The peer reads nothing while requests queue (it is paused), then the
	// client gives up on them.
	_ = c.SetWriteDeadline(time.Now().Add(time.Second)) // a full buffer ends the write
	n, _ := c.Write(make([]byte, 1<<20))
	if n == 0 {
		t.Fatal("nothing written")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, s)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the peer read %d of %d bytes queued, then %v; want a reset", got, n, err)
	}
}
