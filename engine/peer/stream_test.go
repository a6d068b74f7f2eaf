package peer_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/wait"
)

// transports are the ways a client makes the hot calls (Replicate, Read,
// ReadMany): over Connect, or over a peer stream.
var transports = []string{"connect", "stream"}

type overTransport[V any] struct {
	transport string
	v         V
}

// overTransports pairs every case with every transport.
func overTransports[V any](cases []V) []overTransport[V] {
	var out []overTransport[V]
	for _, tr := range transports {
		for _, v := range cases {
			out = append(out, overTransport[V]{tr, v})
		}
	}
	return out
}

// clientOver returns a client whose node "other" is at addr: over Connect
// only ("connect"), or with its stream to addr open ("stream").
func clientOver(t *testing.T, addr, transport string) *peer.Client {
	t.Helper()
	if transport == "connect" {
		return clientTo(t, addr, nil)
	}
	hc := peer.NewPlaintextClient(nil)
	t.Cleanup(hc.CloseIdleConnections)
	c := peer.NewClient("self", hc, func(id string) (string, bool) { return addr, id == "other" })
	t.Cleanup(c.DisableStreams) // closes the stream
	if err := wait.Until(t.Context(), func() bool { return c.Streaming("other") }); err != nil {
		t.Fatalf("the stream to %s did not open: %v", addr, err)
	}
	return c
}

// gatedApply holds every Apply until release is closed.
type gatedApply struct {
	*memLocal
	entered chan struct{}
	release chan struct{}
}

func (g *gatedApply) Apply(ctx context.Context, objs []peer.Object, sync bool, owner string) (bool, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return g.memLocal.Apply(ctx, objs, sync, owner)
}

// streamServer serves local's peer handler, counting the HTTP requests it
// gets by path, and returns its address, its peer server and the count.
func streamServer(t *testing.T, local peer.Local) (addr string, srv *peer.Server, requests func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	paths := map[string]int{}
	mux := http.NewServeMux()
	path, srv := peer.NewHandler(local, nil)
	mux.Handle(path, srv)
	addr, _ = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path]++
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return addr, srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(paths)
	}
}

// TestStreamCarriesTheHotCalls: once a client's stream is open,
// Replicate and Read reach the peer in its frames, not as HTTP requests,
// with their answers; other calls still go over Connect.
func TestStreamCarriesTheHotCalls(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	addr, _, requests := streamServer(t, l)
	c := clientOver(t, addr, "stream")
	ctx := t.Context()
	obj := value("node-a", "v")
	durable, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "ns", Key: []byte("k"), Object: obj}}, true, "")
	if err != nil || !durable {
		t.Fatalf("Replicate: durable %v, %v", durable, err)
	}
	applied, _, _, _ := l.calls()
	if len(applied) != 1 || !applied[0].sync || !applied[0].objs[0].Object.Equal(obj) {
		t.Fatalf("applied %+v, want the one object, synced", applied)
	}
	l.put(0, peer.Object{Namespace: "ns", Key: []byte("k"), Object: obj})
	got, err := c.Read(ctx, "other", "ns", []byte("k"))
	if err != nil || !got.Equal(obj) {
		t.Fatalf("Read: %v %v, want the object", got.Siblings(), err)
	}
	if _, err := c.Tree(ctx, "other", 0); err != nil {
		t.Fatalf("Tree: %v", err)
	}
	want := map[string]int{peer.StreamPath: 1, "/concord.peer.v1.PeerService/Tree": 1}
	if got := requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("HTTP requests %v, want %v", got, want)
	}
}

// TestStreamFallsBackToConnect: a peer that does not offer streams (an
// older version: 404 at the path) still gets every call, over Connect,
// and the client does not ask it again at every call.
func TestStreamFallsBackToConnect(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	l.put(0, peer.Object{Namespace: "ns", Key: []byte("k"), Object: value("node-a", "v")})
	var mu sync.Mutex
	upgrades := 0
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == peer.StreamPath {
			mu.Lock()
			upgrades++
			mu.Unlock()
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	hc := peer.NewPlaintextClient(nil)
	t.Cleanup(hc.CloseIdleConnections)
	c := peer.NewClient("self", hc, func(string) (string, bool) { return addr, true })
	for range 20 {
		if _, err := c.Read(t.Context(), "other", "ns", []byte("k")); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if c.Streaming("other") {
			t.Fatal("a stream opened to a peer that answers 404")
		}
	}
	if err := wait.Until(t.Context(), func() bool { mu.Lock(); defer mu.Unlock(); return upgrades == 1 }); err != nil {
		t.Fatalf("Upgrade requests: %d, want 1", upgrades)
	}
}

// replicateHeld serves a peer whose Apply waits for l.release, and
// returns once a Replicate over a stream to it has reached that Apply;
// the call's error comes on errc.
func replicateHeld(t *testing.T) (l *gatedApply, srv *peer.Server, c *peer.Client, errc chan error) {
	t.Helper()
	l = &gatedApply{memLocal: newMemLocal(), entered: make(chan struct{}, 4), release: make(chan struct{})}
	addr, srv, _ := streamServer(t, l)
	c = clientOver(t, addr, "stream")
	errc = make(chan error, 1)
	go func() {
		_, err := c.Replicate(t.Context(), "other", []peer.Object{{Namespace: "ns", Key: []byte("k"), Object: value("a", "v")}}, false, "")
		errc <- err
	}()
	<-l.entered
	return l, srv, c, errc
}

// TestStreamLostMidCall: when the stream breaks while a call waits for
// its answer, the call ends as no answer (the peer may have applied it),
// and the client opens a new stream for the calls after it.
func TestStreamLostMidCall(t *testing.T) {
	t.Parallel()
	l, srv, _, errc := replicateHeld(t)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	srv.Shutdown(ended) // no drain: the streams close at once
	if err := <-errc; !errors.Is(err, peer.ErrNoAnswer) {
		t.Fatalf("a call on a lost stream: %v, want peer.ErrNoAnswer", err)
	}
	close(l.release)
}

// TestAbandonEndsTheCallsToANode: calls waiting on a node declared down
// (Abandon) end as no answer at once, not at their deadline, whether sent
// (over a peer stream or over Connect) or queued behind those; over a
// stream, the client opens a new one for the calls after it.
func TestAbandonEndsTheCallsToANode(t *testing.T) {
	t.Parallel()
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			const calls = 8 // some sent and held, the rest queued behind them
			l := &gatedApply{memLocal: newMemLocal(), entered: make(chan struct{}, calls), release: make(chan struct{})}
			defer close(l.release)
			addr, _, _ := streamServer(t, l)
			c := clientOver(t, addr, transport)
			errc := make(chan error, calls)
			replicate := func(i int) {
				_, err := c.Replicate(t.Context(), "other", []peer.Object{{Namespace: "ns", Key: fmt.Appendf(nil, "k%d", i), Object: value("a", "v")}}, false, "")
				errc <- err
			}
			// One call until the node holds it (a queue's one request in
			// flight), then the rest, which queue behind it.
			const held = 1
			go replicate(0)
			<-l.entered
			for i := held; i < calls; i++ {
				go replicate(i)
			}
			if err := wait.Until(t.Context(), func() bool { return c.Waiting() == calls-held }); err != nil {
				t.Fatalf("%d calls queued, want %d", c.Waiting(), calls-held)
			}
			c.Abandon(addr)
			for range calls {
				if err := <-errc; !errors.Is(err, peer.ErrNoAnswer) {
					t.Fatalf("a call to an abandoned node: %v, want peer.ErrNoAnswer", err)
				}
			}
			if transport == "stream" {
				if err := wait.Until(t.Context(), func() bool { return c.Streaming("other") }); err != nil {
					t.Fatal("no new stream after the old one was abandoned")
				}
			}
		})
	}
}

// TestStreamShutdownDrains: a call being served when the server shuts
// down still gets its answer; the stream closes after it.
func TestStreamShutdownDrains(t *testing.T) {
	t.Parallel()
	l, srv, c, errc := replicateHeld(t)
	stopped := make(chan struct{})
	go func() {
		srv.Shutdown(t.Context())
		close(stopped)
	}()
	close(l.release)
	if err := <-errc; err != nil {
		t.Fatalf("a call served during the shutdown: %v", err)
	}
	<-stopped
	if err := wait.Until(t.Context(), func() bool { return !c.Streaming("other") }); err != nil {
		t.Fatal("the stream is still open after the server shut down")
	}
}

// TestSilentStreamIsDropped: a stream that stays silent for the whole of
// a call that runs out of time (a peer cut off without a reset) is closed,
// so that later calls do not wait on it too.
func TestSilentStreamIsDropped(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	go func() { // upgrades every connection, then reads and never answers
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_ = req.Body.Close()
				_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+req.Header.Get("Upgrade")+"\r\n\r\n")
				_, _ = io.Copy(io.Discard, br)
			}()
		}
	}()
	addr := lis.Addr().String()
	c := clientOver(t, addr, "stream")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, "other", "ns", []byte("k")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read nobody answers: %v, want context.DeadlineExceeded", err)
	}
	if err := wait.Until(t.Context(), func() bool { return !c.Streaming("other") }); err != nil {
		t.Fatal("the silent stream is still in use")
	}
}

// TestStreamRefusesMalformedFrames: a frame longer than any request, or
// one naming no method, does not reach the Local: the first closes the
// stream, the second is answered as invalid.
func TestStreamRefusesMalformedFrames(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	addr, _, _ := streamServer(t, l)
	open := func(t *testing.T) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_, _ = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: concord-peer-stream/1\r\n\r\n", peer.StreamPath)
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("Upgrade: %v %v", res, err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		return conn, br
	}
	t.Run("too long", func(t *testing.T) {
		conn, br := open(t)
		var h [17]byte
		binary.BigEndian.PutUint32(h[:], 1<<31)
		_, _ = conn.Write(h[:])
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("after a frame of 2 GiB: %v, want the stream closed", err)
		}
	})
	t.Run("no such method", func(t *testing.T) {
		conn, br := open(t)
		var h [17]byte
		binary.BigEndian.PutUint32(h[:], 13)
		binary.BigEndian.PutUint64(h[4:], 7)
		h[12] = 200
		binary.BigEndian.PutUint32(h[13:], 1e6)
		_, _ = conn.Write(h[:])
		var a [13]byte
		if _, err := io.ReadFull(br, a[:]); err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if id, status := binary.BigEndian.Uint64(a[4:]), a[12]; id != 7 || status != 1 {
			t.Errorf("answer to call %d with status %d, want call 7 answered with an error", id, status)
		}
	})
	applied, _, _, _ := l.calls()
	if len(applied) != 0 {
		t.Errorf("malformed frames reached the Local: %v", applied)
	}
}

// TestStreamRetriesAStoppingPeer: an Upgrade refused with anything but
// 404 (a node stopping answers 503) is asked again a second later, not
// after the minute an older version waits: the stream opens soon after.
func TestStreamRetriesAStoppingPeer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	refused := 0
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(newMemLocal(), nil))
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := r.URL.Path == peer.StreamPath && refused == 0
		if first {
			refused++
		}
		mu.Unlock()
		if first {
			http.Error(w, "the node is stopping", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	hc := peer.NewPlaintextClient(nil)
	t.Cleanup(hc.CloseIdleConnections)
	c := peer.NewClient("self", hc, func(string) (string, bool) { return addr, true })
	t.Cleanup(c.Close)
	if err := wait.Within(t.Context(), 20*time.Second, func() bool { return c.Streaming("other") }); err != nil {
		t.Fatalf("no stream after a refusal with 503: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if refused != 1 {
		t.Errorf("%d Upgrades refused, want 1", refused)
	}
}
