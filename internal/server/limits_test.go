package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/server"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// These tests use real loopback sockets, so short limits from the
// configuration rather than testing/synctest; every wait is a bounded
// loop that fails the test if the server never acts.

// shortLimits are limits a test can watch being enforced.
func shortLimits() server.Limits {
	return server.Limits{
		ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		StreamIdleTimeout: 10 * time.Second, IdleTimeout: time.Second,
	}
}

func startLimited(t *testing.T, l server.Limits, configure func(*embed.Config)) *embed.Embedded {
	t.Helper()
	return startNode(t, func(cfg *embed.Config) {
		cfg.Server.Limits = l
		if configure != nil {
			configure(cfg)
		}
	})
}

// h2cOrHTTP1 names the two plaintext transports.
var h2cOrHTTP1 = []struct {
	name string
	h2c  bool
}{{"http1", false}, {"h2c", true}}

func TestSlowBodiesAreCutOff(t *testing.T) {
	t.Parallel()
	e := startLimited(t, shortLimits(), nil)
	for _, tr := range h2cOrHTTP1 {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			// A body of 100 bytes, one every 100 ms: 10 s if the server
			// waited for all of it. The read timeout is 1 s.
			const size = 100
			pr, pw := io.Pipe()
			var sent atomic.Int64
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				defer pw.Close()
				for range size {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := pw.Write([]byte{0}); err != nil {
						return
					}
					sent.Add(1)
				}
			}()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.APIURL()+kvv1connect.KVServicePutProcedure, pr)
			req.Header.Set("Content-Type", "application/proto")
			req.ContentLength = size
			res, err := newHTTPClient(t, tr.h2c).Do(req)
			if err == nil {
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if n := sent.Load(); n >= size {
				t.Fatalf("the server read the whole slow body (%d bytes); it should have cut it off", n)
			}
			if err == nil && res.StatusCode == http.StatusOK {
				t.Fatalf("a slow body got 200 OK after %d bytes", sent.Load())
			}
			t.Logf("cut off after %d bytes: status %v, err %v", sent.Load(), statusOf(res), err)
		})
	}
}

func statusOf(res *http.Response) string {
	if res == nil {
		return "none"
	}
	return res.Status
}

// closeWatcher is a client connection that reports when the server has
// closed it (a read returns an error).
type closeWatcher struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeWatcher) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.once.Do(func() { close(c.closed) })
	}
	return n, err
}

func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	e := startLimited(t, shortLimits(), nil)
	for _, tr := range h2cOrHTTP1 {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			conns := make(chan *closeWatcher, 8)
			hc := newHTTPClient(t, tr.h2c)
			hc.Transport.(testcred.Transport).Next.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				w := &closeWatcher{Conn: c, closed: make(chan struct{})}
				conns <- w
				return w, nil
			}
			if status, _ := httpGet(t, hc, e.APIURL()+"/livez"); status != http.StatusOK {
				t.Fatalf("GET /livez: %d", status)
			}
			c := <-conns
			select {
			case <-c.closed:
			case <-time.After(30 * time.Second):
				t.Fatal("an idle keep-alive connection was still open 30s after the request (idle timeout 1s)")
			}
		})
	}
}

// countingListener counts the connections open at once (and the most
// there ever were) and the bytes the server read.
type countingListener struct {
	net.Listener
	mu        sync.Mutex
	open, max int
	read      atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.max = max(l.max, l.open)
	l.mu.Unlock()
	return &countingConn{Conn: c, l: l}, nil
}

func (l *countingListener) maxOpen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

type countingConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func listenLoopback(t *testing.T) *countingListener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: lis}
}

// syncLog is a log destination tests read while the server writes.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestAConnectionFloodIsHeldAtTheCapWhileAClientKeepsBeingServed(t *testing.T) {
	t.Parallel()
	const maxConns, flood = 4, 40
	lis := listenLoopback(t)
	logs := &syncLog{}
	l := shortLimits()
	l.MaxConns = maxConns
	l.IdleTimeout = time.Minute // the well-behaved client's connection stays
	e := startLimited(t, l, func(cfg *embed.Config) {
		cfg.APIAddr, cfg.APIListener = "", lis
		cfg.Node.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})

	// A well-behaved client holds one HTTP/2 connection.
	good := dial(t, e.APIURL(), protocols[2])
	good.blindPut(t, "k", "v")

	// The flood: connections that send nothing, far more than the cap.
	var flooders []net.Conn
	defer func() {
		for _, c := range flooders {
			c.Close()
		}
	}()
	for range flood {
		c, err := net.Dial("tcp", lis.Addr().String()) // completes in the kernel's accept queue
		if err != nil {
			t.Fatal(err)
		}
		flooders = append(flooders, c)
	}
	for i := range 20 {
		if got := good.get(t, ns, "k"); !got.GetFound() {
			t.Fatalf("read %d during the flood: not found", i)
		}
	}
	if m := lis.maxOpen(); m > maxConns {
		t.Errorf("the server held %d connections at once; the cap is %d", m, maxConns)
	}
	if wait.Within(t.Context(), 30*time.Second, func() bool { return strings.Contains(logs.String(), "connection cap reached") }) != nil {
		t.Fatalf("no log line says the cap was reached:\n%s", logs.String())
	}
	// The flood's connections time out (header timeout) one cap-full at a
	// time, so a new client gets in.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	fresh := dial(t, e.APIURL(), protocols[0])
	if _, err := fresh.kv.Get(ctx, &kvv1.GetRequest{Namespace: ns, Key: []byte("k")}); err != nil {
		t.Fatalf("a new client during the flood: %v", err)
	}
	if m := lis.maxOpen(); m > maxConns {
		t.Errorf("the server held %d connections at once; the cap is %d", m, maxConns)
	}
}

func TestOversizedBodiesAreRefusedBeforeTheyAreRead(t *testing.T) {
	t.Parallel()
	const valueLimit = 64 << 10
	for _, p := range []protocol{protocols[0], protocols[2]} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			lis := listenLoopback(t)
			e := startNode(t, func(cfg *embed.Config) {
				cfg.APIAddr, cfg.APIListener = "", lis
				cfg.Node.Namespace.Limits.MaxValueBytes = valueLimit // of "default", the only namespace
			})
			c := dial(t, e.APIURL(), p)
			// Within the namespace's limit: served.
			c.blindPut(t, "fits", strings.Repeat("x", valueLimit))

			for _, tt := range []struct {
				name string
				call func() error
			}{
				{"put", func() error {
					_, err := c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("big"), Value: make([]byte, 16<<20)})
					return err
				}},
				{"get", func() error {
					_, err := c.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: make([]byte, 8<<20)})
					return err
				}},
			} {
				before := lis.read.Load()
				err := tt.call()
				read := lis.read.Load() - before
				wantError(t, err, connect.CodeResourceExhausted, "limit")
				// The Put cap is the value limit plus a 128 KiB envelope;
				// allow as much again for headers and buffering and, on
				// HTTP/2, the stream's flow-control window (1 MiB), which
				// the server buffers whatever the handler reads.
				bound := int64(valueLimit + 256<<10)
				if p.h2c {
					bound += 1 << 20
				}
				if read > bound {
					t.Errorf("%s: the server read %d bytes of a refused body; it should stop near the cap", tt.name, read)
				}
			}
		})
	}
}

func TestStreamsOutliveTheUnaryTimeouts(t *testing.T) {
	t.Parallel()
	e := startLimited(t, shortLimits(), nil) // read and write timeouts 1s; stream idle 10s
	for _, tr := range h2cOrHTTP1 {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			admin := adminv1connect.NewAdminServiceClient(newHTTPClient(t, tr.h2c), e.APIURL())
			stream, err := admin.WatchHandoff(t.Context(), &adminv1.WatchHandoffRequest{Follow: true})
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			// WatchHandoff sends every second: four messages take over 3s.
			for i := range 4 {
				if !stream.Receive() {
					t.Fatalf("the watch ended after %d messages: %v", i, stream.Err())
				}
			}
		})
	}
}

func TestAStreamThatSendsNothingIsCutOff(t *testing.T) {
	t.Parallel()
	l := shortLimits()
	l.StreamIdleTimeout = 200 * time.Millisecond // shorter than WatchHandoff's 1s between messages
	e := startLimited(t, l, nil)
	for _, tr := range h2cOrHTTP1 {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			admin := adminv1connect.NewAdminServiceClient(newHTTPClient(t, tr.h2c), e.APIURL())
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			stream, err := admin.WatchHandoff(ctx, &adminv1.WatchHandoffRequest{Follow: true})
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			n := 0
			for stream.Receive() {
				n++
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("a following watch idle past its stream timeout was still open after 30s (%d messages)", n)
			}
			t.Logf("cut off after %d messages: %v", n, stream.Err())
		})
	}
}

// TestOperationalEndpointsAreOnlyOnTheAdminListener: the client API has
// health but no metrics, profiler or reflection; the admin listener has
// them.
func TestOperationalEndpointsAreOnlyOnTheAdminListener(t *testing.T) {
	t.Parallel()
	e := startNode(t, nil)
	hc := newHTTPClient(t, false)
	admin := "http://" + e.AdminAddr()
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if status, _ := httpGet(t, hc, e.APIURL()+path); status != http.StatusNotFound {
			t.Errorf("GET %s on the client API: %d, want 404", path, status)
		}
		if status, _ := httpGet(t, hc, admin+path); status != http.StatusOK {
			t.Errorf("GET %s on the admin listener: %d, want 200", path, status)
		}
	}
	for _, path := range []string{"/livez", "/readyz"} {
		if status, _ := httpGet(t, hc, e.APIURL()+path); status != http.StatusOK {
			t.Errorf("GET %s on the client API: %d, want 200", path, status)
		}
	}
	c := dial(t, e.APIURL(), protocols[2])
	stream := grpcreflect.NewClient(c.h2c, c.url, c.proto.opts...).NewStream(t.Context())
	defer func() { _, _ = stream.Close() }()
	_, err := stream.ListServices()
	wantError(t, err, connect.CodeUnimplemented)
}
