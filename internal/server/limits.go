package server

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what the clients of one listener may hold: how long a
// request may take to arrive and to be answered, how long a connection may
// sit idle, how many connections and HTTP/2 streams there may be. A zero
// field takes its default (see [DefaultLimits] and [DefaultPeerLimits]).
//
// Unary calls are bounded by ReadTimeout (the whole request, body
// included, from the first byte of the headers) and WriteTimeout (from the
// end of the headers to the end of the response, so the handler's work
// too). Streams (WatchHandoff, ListKeys, the peer Transfer) outlive any
// fixed bound: instead, every message the server sends pushes the
// stream's read and write deadlines StreamIdleTimeout ahead. A stream that
// sends nothing for that long, or whose client stops reading for that
// long, is cut off.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (and the TLS
	// handshake). Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole unary request. Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a unary call from the end of its headers to the
	// end of its response. Default 60s.
	WriteTimeout time.Duration
	// StreamIdleTimeout bounds the time between two messages of a stream.
	// Default 60s.
	StreamIdleTimeout time.Duration
	// IdleTimeout closes a keep-alive connection (HTTP/1.1, or HTTP/2 with
	// no stream open) that has been idle this long. Default 2m.
	IdleTimeout time.Duration
	// MaxConns is the most connections the listener holds at once; more
	// wait in the kernel's accept queue until one closes. Default 4096
	// (1024 for the peer listener).
	MaxConns int
	// MaxConcurrentStreams is the most HTTP/2 streams one connection may
	// have open. Default 250 (1000 for the peer listener).
	MaxConcurrentStreams int
}

// DefaultLimits are the client API's limits.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		StreamIdleTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxConns: 4096, MaxConcurrentStreams: 250,
	}
}

// DefaultPeerLimits are the peer listener's limits: as many connections as
// the client API's (a peer call holds an HTTP/1.1 connection while it
// runs, up to peer.PeerConnsPerNode to each node: 64 nodes' worth), and
// more streams on each for an HTTP/2 client.
func DefaultPeerLimits() Limits {
	l := DefaultLimits()
	l.MaxConcurrentStreams = 1000
	return l
}

// adminLimits are the admin listener's: no read or write timeout (a CPU
// profile runs as long as it was asked to, reflection is a long bidi
// stream), few connections. The listener is for operators' tools on a
// trusted network.
func adminLimits() Limits {
	return Limits{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxConns: 64, MaxConcurrentStreams: 100}
}

// orDefaults fills the zero fields of l from d.
func (l Limits) orDefaults(d Limits) Limits {
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.StreamIdleTimeout, d.StreamIdleTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxConns == 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	return l
}

// streamDeadlines serves the procedures in streams with per-message
// deadlines (see [Limits]): before the handler runs and before every
// write, the request's read and write deadlines move idle ahead. Other
// requests keep the server's ReadTimeout and WriteTimeout.
func streamDeadlines(next http.Handler, streams []string, idle time.Duration) http.Handler {
	isStream := make(map[string]bool, len(streams))
	for _, p := range streams {
		isStream[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		sw := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w), idle: idle}
		sw.extend()
		next.ServeHTTP(sw, r)
	})
}

// streamWriter extends its request's deadlines on every write.
type streamWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *streamWriter) extend() {
	d := time.Now().Add(w.idle)
	// Both fail only on a writer without deadlines (not net/http's).
	_ = w.rc.SetReadDeadline(d)
	_ = w.rc.SetWriteDeadline(d)
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written (Connect flushes after every message).
func (w *streamWriter) Flush() { _ = w.rc.Flush() }

// Unwrap lets http.ResponseController reach the server's writer.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitBodies caps every request body at limit(r) bytes before the
// handler reads it: reading more fails with *http.MaxBytesError, which
// Connect answers with RESOURCE_EXHAUSTED (and net/http closes an
// HTTP/1.1 connection after it), so no more than the cap is ever read.
func limitBodies(next http.Handler, limit func(*http.Request) int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit(r))
		}
		next.ServeHTTP(w, r)
	})
}

// limitListener holds at most max connections open at once: Accept waits
// for a slot, so further clients wait in the kernel's accept queue (and,
// once it is full, their connection attempts are dropped) until one of
// the held connections closes. Connections already held keep being
// served. It logs, at most once a minute, that the cap was reached.
type limitListener struct {
	net.Listener
	name  string
	max   int
	slots chan struct{}
	log   *slog.Logger
	warn  rate.Sometimes

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: Accept stops waiting for a slot
}

func newLimitListener(lis net.Listener, name string, max int, log *slog.Logger) *limitListener {
	return &limitListener{
		Listener: lis, name: name, max: max, slots: make(chan struct{}, max), log: log,
		warn: rate.Sometimes{Interval: time.Minute}, closed: make(chan struct{}),
	}
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.warn.Do(func() {
			l.log.Warn("connection cap reached: new connections wait until one closes",
				"listener", l.name, "max_connections", l.max, "addr", l.Addr().String())
		})
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
