package peer

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/errs"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
)

// This file is the handler's side of the peer stream (stream.go).

// Server is the peer service's HTTP handler: the Connect calls of
// concord.peer.v1 and, at [StreamPath], peer streams. http.Server does not
// track the connections a stream takes over: call Shutdown when the
// listener stops.
type Server struct {
	connect http.Handler
	h       *Handler

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	calls   sync.WaitGroup // stream calls being served
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == StreamPath {
		s.serveStream(w, r)
		return
	}
	s.connect.ServeHTTP(w, r)
}

// Shutdown stops reading requests from the streams, waits for the calls
// being served until ctx ends, and closes the streams.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now()) // ends the read loops
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.calls.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

func (s *Server) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), streamProtocol) {
		w.Header().Set("Upgrade", streamProtocol)
		http.Error(w, "a peer stream opens with an Upgrade to "+streamProtocol, http.StatusUpgradeRequired)
		return
	}
	if s.stopping() {
		http.Error(w, "the node is stopping", http.StatusServiceUnavailable)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil { // HTTP/2 cannot hand a connection over
		http.Error(w, "a peer stream needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	defer conn.Close()
	s.mu.Lock()
	if s.closing { // it began stopping meanwhile
		s.mu.Unlock()
		return
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	_ = conn.SetDeadline(time.Time{}) // the server's deadlines were for HTTP
	_, err = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + streamProtocol + "\r\n\r\n")
	if err == nil {
		err = brw.Flush()
	}
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	out := &answerWriter{conn: conn, w: brw.Writer}
	var calls sync.WaitGroup
	slots := make(chan struct{}, maxCallsPerStream)
	serve := func(f frame) {
		defer calls.Done()
		defer func() { <-slots }()
		defer s.calls.Done()
		if err := out.write(s.h.serveFrame(ctx, f)); err != nil {
			_ = conn.Close()
		}
	}
	pool := &workers{serve: serve, work: make(chan frame)}
	defer close(pool.work) // the idle workers end with the stream
	for {
		slots <- struct{}{} // at the cap, the stream is not read until a call ends
		f, err := readFrame(brw.Reader, true, MaxRequestBytes+requestHeader)
		if err != nil {
			// A stream closed, broken, or stopped by Shutdown: the calls
			// being served still answer (on a broken stream their answers
			// are lost with it) before the connection closes.
			calls.Wait()
			return
		}
		s.mu.Lock()
		if s.closing { // a frame read before Shutdown stopped the reads: not served
			s.mu.Unlock()
			calls.Wait()
			return
		}
		s.calls.Add(1) // under mu: Shutdown waits for every call it let in
		s.mu.Unlock()
		calls.Add(1)
		pool.hand(f)
	}
}

// workers serve a stream's frames on goroutines that outlive one frame. A
// goroutine started per frame began with the smallest stack, which a
// Replicate's merge and commit (or a read down Pebble's iterators) grew
// and copied two or three times, every frame: 3–4% of a cluster's CPU
// under puts (docs/performance.md, session 17). A worker keeps its grown
// stack for the next frame (until a collection finds it idle and shrinks
// it). Handing a frame to an idle worker costs what starting a goroutine
// did: one wake-up.
type workers struct {
	serve   func(frame)
	work    chan frame // unbuffered: a send succeeds only to an idle worker
	idle    atomic.Int32
	started atomic.Int32 // workers started (tests)
}

// maxIdleWorkers is how many workers a stream keeps waiting for frames;
// more than that end after their frame, so a burst of concurrent calls
// leaves no crowd of goroutines behind.
const maxIdleWorkers = 8

// hand serves f on an idle worker, or on a new one when none is idle.
func (w *workers) hand(f frame) {
	select {
	case w.work <- f:
	default:
		w.started.Add(1)
		go w.run(f)
	}
}

func (w *workers) run(f frame) {
	for {
		w.serve(f)
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		next, ok := <-w.work
		w.idle.Add(-1)
		if !ok {
			return
		}
		f = next
	}
}

// maxCallsPerStream bounds the calls one stream has served at once. A
// client keeps a few in flight per peer (coalesce.go); the bound is for
// one that does not.
const maxCallsPerStream = 256

// answerWriteTimeout bounds writing an answer: a peer that reads none
// for this long loses its stream.
const answerWriteTimeout = 30 * time.Second

// answerWriter writes answer frames, one at a time.
type answerWriter struct {
	conn net.Conn
	mu   sync.Mutex
	w    *bufio.Writer
}

func (a *answerWriter) write(frame []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.conn.SetWriteDeadline(time.Now().Add(answerWriteTimeout))
	if _, err := a.w.Write(frame); err != nil {
		return err
	}
	return a.w.Flush()
}

// serveFrame serves one request frame and returns its answer frame.
//
// It gives the call no deadline of its own: the stream's methods wait on
// nothing but this node's storage, which takes no context, so a timer per
// frame (1% of a replica's CPU under puts) bounded nothing. The frame's
// timeout is for methods that will wait on something else.
func (h *Handler) serveFrame(ctx context.Context, f frame) []byte {
	res, err := h.serveMethod(ctx, streamMethod(f.kind), f.msg)
	status := statusOK
	if err != nil {
		status, res = statusError, encodeErrorMessage(err)
	}
	out, err := appendAnswer(nil, f.id, status, res)
	if err != nil { // a message that does not encode: answer that instead
		out, _ = appendAnswer(nil, f.id, statusError, encodeErrorMessage(errs.ErrUnavailable))
	}
	return out
}

func (h *Handler) serveMethod(ctx context.Context, m streamMethod, msg []byte) (proto.Message, error) {
	switch m {
	case methodReplicate:
		var req peerv1.ReplicateRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			return nil, errMalformedRequest
		}
		return h.Replicate(ctx, &req)
	case methodRead:
		var req peerv1.ReadRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			return nil, errMalformedRequest
		}
		return h.Read(ctx, &req)
	case methodReadMany:
		var req peerv1.ReadManyRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			return nil, errMalformedRequest
		}
		return h.ReadMany(ctx, &req)
	}
	return nil, errs.Invalid("method", "the peer stream has no method %d", m)
}

var errMalformedRequest = errs.Invalid("request", "a request frame's message does not decode")
