// Package procs runs real concord processes for tests: it builds the binary
// once per test binary, starts `concord serve` on loopback ports, waits for
// readiness, and kills or restarts nodes. Only tests import it.
package procs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/concord once and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "concord-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "concord")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/concord")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Node is one `concord serve` process.
type Node struct {
	t       testing.TB
	args    []string
	dataDir string

	cmd      *exec.Cmd
	exited   chan struct{}
	Endpoint string // http://HOST:PORT of the client API
	Gossip   string // HOST:PORT of the gossip listener
	peer     string // HOST:PORT of the peer listener
	logs     *logBuffer
}

// Start runs `concord serve --data-dir dataDir` plus extra args on a free
// loopback port and waits until /readyz answers. The process is killed when
// the test ends.
func Start(t testing.TB, dataDir string, extra ...string) *Node {
	t.Helper()
	n := &Node{t: t, dataDir: dataDir, args: extra, logs: &logBuffer{}}
	n.start()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			t.Logf("logs of node %s:\n%s", n.dataDir, n.logs.String())
		}
	})
	return n
}

func (n *Node) start() {
	t := n.t
	t.Helper()
	// A restarted node keeps its ports, as a real one would.
	api, peer := "127.0.0.1:0", "127.0.0.1:0"
	if n.Endpoint != "" {
		api, peer = strings.TrimPrefix(n.Endpoint, "http://"), n.peer
	}
	args := append([]string{"serve", "--data-dir", n.dataDir, "--api-addr", api, "--peer-addr", peer, "--gossip-addr", "127.0.0.1:0", "--log-format", "json"}, n.args...)
	cmd := exec.Command(Binary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	addr := make(chan serving, 1)
	go n.scan(stderr, addr)
	go func() { _ = cmd.Wait(); close(n.exited) }()
	select {
	case a := <-addr:
		n.Endpoint, n.Gossip, n.peer = a.api, a.gossip, a.peer
	case <-n.exited:
		t.Fatalf("concord serve exited before serving:\n%s", n.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("concord serve did not report its address in 60s:\n%s", n.logs.String())
	}
	n.waitReady()
}

type serving struct{ api, gossip, peer string }

// scan copies the process's JSON logs and reports the addresses from the
// "serving" line.
func (n *Node) scan(r io.Reader, addr chan<- serving) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		n.logs.add(line)
		var rec struct {
			Msg    string `json:"msg"`
			API    string `json:"api"`
			Gossip string `json:"gossip"`
			Peer   string `json:"peer"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" && rec.API != "" {
			select {
			case addr <- serving{rec.API, rec.Gossip, rec.Peer}:
			default:
			}
		}
	}
}

func (n *Node) waitReady() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready := func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Endpoint+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	if err := wait.Until(ctx, ready); err != nil {
		n.t.Fatalf("node %s not ready in 60s:\n%s", n.Endpoint, n.logs.String())
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// Restart starts the node again with the same data directory and flags (on a
// new port; Endpoint changes).
func (n *Node) Restart() {
	n.t.Helper()
	n.Kill()
	n.start()
}

// Logs returns what the process has logged so far.
func (n *Node) Logs() string { return n.logs.String() }

type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(l string) {
	b.mu.Lock()
	b.lines = append(b.lines, l)
	b.mu.Unlock()
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
