package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/engine/errs"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
)

// This file is the client's side of the peer stream (stream.go): a
// stream per peer address, opened in the background on first use.

const (
	// streamOpenTimeout bounds opening a stream (dial, TLS, Upgrade).
	streamOpenTimeout = 5 * time.Second
	// streamRetry is how long after a failed open a client tries again;
	// calls go over Connect meanwhile.
	streamRetry = time.Second
	// streamUnsupportedRetry is how long a client waits before asking
	// again a peer that refused the Upgrade (an older version, until it
	// is upgraded).
	streamUnsupportedRetry = time.Minute
)

// errNotSent: the call never reached the stream (it was closed, or
// failed before the call's frame was written). Nothing was sent, so the
// caller may make the call over Connect instead.
var errNotSent = errors.New("peer stream: call not sent")

// errNoStream: the peer does not know the stream's path (404): a node of
// an older version.
var errNoStream = errors.New("peer stream: the node does not offer one")

// errSilent: a call ran out of time without a frame from the peer since
// it was sent; the connection is presumed dead.
var errSilent = errors.New("peer stream: no frame from the node during a call")

// streams are a client's peer streams by address.
type streams struct {
	open func(addr string) (*stream, error)

	mu     sync.Mutex
	byAddr map[string]*streamSlot
}

type streamSlot struct {
	s       *stream
	opening bool
	retryAt time.Time
}

// get returns the open stream to addr, or nil when there is none yet;
// then it starts opening one in the background unless an open is under
// way or failed recently.
func (ss *streams) get(addr string) *stream {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.open == nil {
		return nil
	}
	slot := ss.byAddr[addr]
	if slot == nil {
		slot = &streamSlot{}
		if ss.byAddr == nil {
			ss.byAddr = map[string]*streamSlot{}
		}
		ss.byAddr[addr] = slot
	}
	if slot.s != nil && !slot.s.failed() {
		return slot.s
	}
	if !slot.opening && !time.Now().Before(slot.retryAt) {
		slot.opening, slot.s = true, nil
		go ss.dial(ss.open, addr, slot)
	}
	return nil
}

func (ss *streams) dial(open func(string) (*stream, error), addr string, slot *streamSlot) {
	s, err := open(addr)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	slot.opening = false
	switch {
	case err == nil && ss.open == nil: // disabled meanwhile
		s.fail(errors.New("peer stream: streams disabled"))
	case errors.Is(err, errNoStream):
		slot.retryAt = time.Now().Add(streamUnsupportedRetry)
	case err != nil:
		slot.retryAt = time.Now().Add(streamRetry)
	default:
		slot.s = s
	}
}

// abandon fails the stream to addr, if one is open; the next call opens
// a new one.
func (ss *streams) abandon(addr string) {
	ss.mu.Lock()
	var s *stream
	if slot := ss.byAddr[addr]; slot != nil {
		s, slot.s = slot.s, nil
	}
	ss.mu.Unlock()
	if s != nil {
		s.fail(errAbandoned)
	}
}

// errAbandoned: the node was declared down (Client.Abandon).
var errAbandoned = errors.New("peer stream: the node was declared down")

// disable closes every stream and opens no more.
func (ss *streams) disable() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.open = nil
	for _, slot := range ss.byAddr {
		if slot.s != nil {
			slot.s.fail(errors.New("peer stream: client closed"))
		}
	}
}

// openStream opens a stream to addr through the client's HTTP client: an
// Upgrade request, answered 101 with the connection handed over.
func openStream(hc HTTPClient, scheme, addr string) (*stream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), streamOpenTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+addr+StreamPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", streamProtocol)
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	rwc, ok := res.Body.(io.ReadWriteCloser)
	switch {
	case res.StatusCode == http.StatusNotFound: // a node of a version without streams
		_ = res.Body.Close()
		return nil, fmt.Errorf("%w (%s)", errNoStream, res.Status)
	case res.StatusCode != http.StatusSwitchingProtocols || !ok || !strings.EqualFold(res.Header.Get("Upgrade"), streamProtocol):
		_ = res.Body.Close() // a node stopping (503), a proxy: try again soon
		return nil, fmt.Errorf("peer stream: the Upgrade was answered %s", res.Status)
	}
	s := &stream{conn: rwc, w: bufio.NewWriterSize(rwc, 16<<10), pending: map[uint64]chan frame{}}
	go s.readLoop(bufio.NewReaderSize(rwc, 16<<10))
	return s, nil
}

// A stream is one open peer stream of a client.
type stream struct {
	conn io.ReadWriteCloser

	wmu sync.Mutex // serialises frames on w
	w   *bufio.Writer
	buf []byte // a frame being written, reused under wmu

	mu      sync.Mutex
	pending map[uint64]chan frame // calls waiting for their answers, by id
	nextID  uint64
	dead    atomic.Bool // failed: no more calls (set under mu, read without)

	heard atomic.Int64 // when a frame last arrived, in Unix nanoseconds
}

func (s *stream) failed() bool { return s.dead.Load() }

// fail closes the stream; the calls waiting on it end without an answer.
func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.dead.Load() {
		s.mu.Unlock()
		return
	}
	s.dead.Store(true)
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	_ = s.conn.Close()
	for _, ch := range pending {
		close(ch)
	}
}

func (s *stream) readLoop(r io.Reader) {
	for {
		f, err := readFrame(r, false, maxAnswerBytes)
		if err != nil {
			s.fail(err)
			return
		}
		s.heard.Store(time.Now().UnixNano())
		s.mu.Lock()
		ch := s.pending[f.id]
		delete(s.pending, f.id)
		s.mu.Unlock()
		if ch != nil {
			ch <- f // buffered
		}
	}
}

// call sends req as a request frame of method and decodes the answer into
// res. Its errors are those of a Connect call (see Client), and
// errNotSent when the request never left: then the caller may use Connect.
func (s *stream) call(addr string, deadline time.Time, method streamMethod, req, res proto.Message) error {
	timeout := time.Until(deadline)
	if timeout <= 0 {
		return fmt.Errorf("peer: %w", context.DeadlineExceeded)
	}
	ch := make(chan frame, 1)
	s.mu.Lock()
	if s.dead.Load() {
		s.mu.Unlock()
		return errNotSent
	}
	id := s.nextID
	s.nextID++
	s.pending[id] = ch
	s.mu.Unlock()

	sent := time.Now()
	s.wmu.Lock()
	var err error
	s.buf, err = appendRequest(s.buf[:0], id, method, timeout, req)
	if err == nil {
		if _, err = s.w.Write(s.buf); err == nil {
			err = s.w.Flush()
		}
	}
	if cap(s.buf) > 64<<10 {
		s.buf = nil // keep no large buffer between calls
	}
	s.wmu.Unlock()
	if err != nil {
		// Part of the frame may have left: the stream is unusable, and the
		// call may have reached the peer.
		s.fail(err)
		return fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f, ok := <-ch:
		if !ok {
			return fmt.Errorf("%w: the stream to %s closed", ErrNoAnswer, addr)
		}
		return decodeAnswer(addr, f, res)
	case <-t.C:
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		if s.heard.Load() < sent.UnixNano() {
			s.fail(errSilent)
		}
		return fmt.Errorf("peer: %w", context.DeadlineExceeded)
	}
}

// decodeAnswer decodes an answer frame into res, or into the engine error
// it carries.
func decodeAnswer(addr string, f frame, res proto.Message) error {
	switch f.kind {
	case statusOK:
		if err := proto.Unmarshal(f.msg, res); err != nil {
			return malformed(addr, err)
		}
		return nil
	case statusError:
		var w peerv1.EngineError
		if err := proto.Unmarshal(f.msg, &w); err != nil {
			return fmt.Errorf("%w: a peer's error did not decode", errs.ErrUnavailable)
		}
		return fromWire(&w)
	}
	return fmt.Errorf("%w: node %s answered with status %d", errs.ErrUnavailable, addr, f.kind)
}
