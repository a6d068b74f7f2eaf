package clustertest

import (
	"errors"
	"net"
	"sync"
	"time"
)

// port holds one loopback port for the whole life of a test node, across
// kills and restarts. Releasing the port on a kill and binding it again on
// the restart fails under load (`bind: address already in use`: another
// test's listener or a lingering socket can take it in between), so the
// socket stays open and each incarnation of the node serves a [session] of
// it. Connections that arrive while no incarnation runs are closed at once,
// as a dead process's port would refuse them.
type port struct {
	lis net.Listener

	mu  sync.Mutex
	cur *session // nil while the node is down
}

func newPort() (*port, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &port{lis: lis}
	go p.accept()
	return p, nil
}

// accept hands every connection to the running incarnation, until Close.
func (p *port) accept() {
	for {
		conn, err := p.lis.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors and the like: try again
			time.Sleep(5 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		s := p.cur
		p.mu.Unlock()
		if s == nil {
			_ = conn.Close()
			continue
		}
		select {
		case s.conns <- conn:
		case <-s.done:
			_ = conn.Close()
		}
	}
}

// open starts a new incarnation's listener on the port.
func (p *port) open() net.Listener {
	s := &session{p: p, conns: make(chan net.Conn), done: make(chan struct{})}
	p.mu.Lock()
	p.cur = s
	p.mu.Unlock()
	return s
}

// Close releases the port for good (when the cluster stops).
func (p *port) Close() error { return p.lis.Close() }

// session is the port as one incarnation of a node sees it: closing it (the
// server does, when the node stops) leaves the port open for the next.
type session struct {
	p     *port
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (s *session) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *session) Close() error {
	s.once.Do(func() {
		s.p.mu.Lock()
		if s.p.cur == s {
			s.p.cur = nil
		}
		s.p.mu.Unlock()
		close(s.done)
	})
	return nil
}

func (s *session) Addr() net.Addr { return s.p.lis.Addr() }
