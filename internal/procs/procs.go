// Package procs runs real concord processes for tests: it builds the binary
// once per test binary, starts `concord serve` (on loopback ports, or on
// given addresses under a command prefix such as `ip netns exec`), waits
// for readiness, and kills, pauses or restarts nodes. Only tests import it.
package procs

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/concord once and returns its path. With
// $CONCORD_BINARY set, it returns that binary instead (to run the process
// tests against another build).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("CONCORD_BINARY"); bin != "" {
			binPath, buildErr = filepath.Abs(bin)
			return
		}
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

// Options say how [StartWith] runs a node. Zero values take the defaults.
type Options struct {
	// Args are more flags of `concord serve`. They come after the
	// harness's own, so they win over them.
	Args []string
	// Wrap is a command prefix the process runs under, such as
	// {"ip", "netns", "exec", "ns1"}. It must exec concord in place, so that
	// signals reach it.
	Wrap []string
	// Host is the IP the API, peer and gossip listeners bind. Default
	// 127.0.0.1.
	Host string
	// APIPort, PeerPort and GossipPort are the listeners' ports; 0 picks a
	// free one at the first start. A restarted node keeps its ports.
	APIPort, PeerPort, GossipPort int
	// Env are more environment variables (KEY=VALUE) of the process, such
	// as CONCORD_GOSSIP_KEY. They come after the harness's own
	// (CONCORD_ADMIN_TOKEN), so they win over them.
	Env []string
	// TLS, when set, is the client TLS configuration the harness checks
	// the node's readiness with: give it when Args serve the client API
	// over TLS (--tls-cert, --tls-key); Endpoint is then https://.
	TLS *tls.Config
	// LogFile, when set, receives every line the process logs, across
	// restarts; a failed test then shows the file's path and the last lines
	// instead of every line.
	LogFile string
}

// tailLines is how many log lines a node with a LogFile keeps in memory.
const tailLines = 60

// Node is one `concord serve` process. Its methods are meant for the test
// goroutine (they call t.Fatal); Logs and Running are safe anywhere.
type Node struct {
	t       testing.TB
	opts    Options
	dataDir string

	cmd      *exec.Cmd
	exited   chan struct{}
	Endpoint string // http://HOST:PORT (https:// with TLS) of the client API
	Admin    string // http://HOST:PORT of the admin listener (/metrics)
	Gossip   string // HOST:PORT of the gossip listener
	peer     string // HOST:PORT of the peer listener
	logs     *logBuffer
}

// Start runs `concord serve --data-dir dataDir` plus extra args on free
// loopback ports and waits until /readyz answers. The process is killed
// when the test ends.
func Start(t testing.TB, dataDir string, extra ...string) *Node {
	t.Helper()
	return StartWith(t, dataDir, Options{Args: extra})
}

// StartWith runs `concord serve --data-dir dataDir` as opts say and waits
// until /readyz answers. The process is killed when the test ends.
func StartWith(t testing.TB, dataDir string, opts Options) *Node {
	t.Helper()
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	n := &Node{t: t, dataDir: dataDir, opts: opts, logs: &logBuffer{}}
	if opts.LogFile != "" {
		f, err := os.OpenFile(opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		n.logs.file, n.logs.max = f, tailLines
	}
	n.start()
	t.Cleanup(func() {
		n.Kill()
		if n.logs.file != nil {
			_ = n.logs.file.Close()
		}
		if t.Failed() {
			where := ""
			if opts.LogFile != "" {
				where = fmt.Sprintf(" (all of them in %s; last %d here)", opts.LogFile, tailLines)
			}
			t.Logf("logs of node %s%s:\n%s", n.Endpoint, where, n.logs.String())
		}
	})
	return n
}

func (n *Node) start() {
	n.t.Helper()
	// A node keeps its ports across restarts, and another process may have
	// taken one of them meanwhile as the local port of a connection of its
	// own (they come from the same ephemeral range): then the start fails
	// with "address already in use" and is tried again until that
	// connection is gone.
	err := wait.Within(context.Background(), 30*time.Second, n.launch)
	if err != nil {
		n.t.Fatalf("concord serve could not bind its ports in 30s:\n%s", n.logs.String())
	}
	n.waitReady()
}

// launch starts the process and waits until it serves; it reports false
// when the process exited because one of its ports was in use.
func (n *Node) launch() bool {
	t := n.t
	t.Helper()
	o := n.opts
	args := append(o.Wrap[:len(o.Wrap):len(o.Wrap)], Binary(t), "serve", "--data-dir", n.dataDir,
		"--api-addr", net.JoinHostPort(o.Host, strconv.Itoa(o.APIPort)),
		"--peer-addr", net.JoinHostPort(o.Host, strconv.Itoa(o.PeerPort)),
		"--gossip-addr", net.JoinHostPort(o.Host, strconv.Itoa(o.GossipPort)),
		"--admin-addr", net.JoinHostPort(o.Host, "0"),
		"--log-format", "json")
	if ip := net.ParseIP(o.Host); ip == nil || !ip.IsLoopback() {
		// Test hosts on private network namespaces: plaintext on purpose.
		args = append(args, "--insecure-plaintext", "--insecure-peer")
	}
	args = append(args, o.Args...)
	cmd := exec.Command(args[0], args[1:]...)
	// Authentication on, with the test credential (set at the first
	// start, ignored on restarts).
	cmd.Env = append(os.Environ(), "CONCORD_ADMIN_TOKEN="+testcred.AdminToken)
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	from := n.logs.Len()
	n.logs.add(fmt.Sprintf(`{"msg":"procs: started","pid":%d,"time":%q}`, cmd.Process.Pid, time.Now().Format(time.RFC3339Nano)))
	n.cmd, n.exited = cmd, make(chan struct{})
	addr := make(chan serving, 1)
	go n.scan(stderr, addr)
	go func() { _ = cmd.Wait(); close(n.exited) }()
	select {
	case a := <-addr:
		n.Endpoint, n.Gossip, n.peer, n.Admin = a.api, a.gossip, a.peer, a.admin
		// A restarted node keeps its ports, as a real one would.
		n.opts.APIPort, n.opts.PeerPort, n.opts.GossipPort = port(a.api), port(a.peer), port(a.gossip)
	case <-n.exited:
		if strings.Contains(n.logs.Since(from), "address already in use") {
			return false
		}
		t.Fatalf("concord serve exited before serving:\n%s", n.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("concord serve did not report its address in 60s:\n%s", n.logs.String())
	}
	return true
}

// port is the port of "http://host:port", "https://host:port" or
// "host:port" (0 if none).
func port(addr string) int {
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	v, _ := strconv.Atoi(p)
	return v
}

type serving struct{ api, gossip, peer, admin string }

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
			Admin  string `json:"admin"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" && rec.API != "" {
			select {
			case addr <- serving{rec.API, rec.Gossip, rec.Peer, rec.Admin}:
			default:
			}
		}
	}
}

func (n *Node) waitReady() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := http.DefaultClient
	if n.opts.TLS != nil {
		tr := &http.Transport{TLSClientConfig: n.opts.TLS.Clone()}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	ready := func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Endpoint+"/readyz", nil)
		res, err := client.Do(req)
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

// Kill sends SIGKILL (which also ends a paused process) and waits for the
// process to exit.
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// Pause stops the process with SIGSTOP: it holds its sockets but answers
// nothing, like a node in a long GC pause or a stalled VM.
func (n *Node) Pause() { n.signal(syscall.SIGSTOP, "SIGSTOP") }

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() { n.signal(syscall.SIGCONT, "SIGCONT") }

func (n *Node) signal(s syscall.Signal, name string) {
	n.t.Helper()
	if err := n.cmd.Process.Signal(s); err != nil {
		n.t.Fatalf("%s to %s: %v", name, n.Endpoint, err)
	}
	n.logs.add(fmt.Sprintf(`{"msg":"procs: sent %s","time":%q}`, name, time.Now().Format(time.RFC3339Nano)))
}

// Running reports whether the process has been started and not exited.
func (n *Node) Running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// SetArgs replaces the extra flags the next Restart uses.
func (n *Node) SetArgs(args ...string) { n.opts.Args = args }

// Restart starts the node again with the same data directory, ports and
// flags (see SetArgs), killing it first if it runs.
func (n *Node) Restart() {
	n.t.Helper()
	n.Kill()
	n.start()
}

// Logs returns what the process has logged so far (the last lines only
// when it logs to a file).
func (n *Node) Logs() string { return n.logs.String() }

// logBuffer keeps a process's log lines (the last max of them when max > 0)
// and copies each to file when it is set.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	total int // lines taken, evicted ones included
	max   int
	file  *os.File
}

func (b *logBuffer) add(l string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, l)
	b.total++
	if b.max > 0 && len(b.lines) > 2*b.max {
		b.lines = append(b.lines[:0], b.lines[len(b.lines)-b.max:]...)
	}
	if b.file != nil {
		_, _ = b.file.WriteString(l + "\n")
	}
}

// Len is how many lines b has taken (evicted ones included).
func (b *logBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Since returns the lines b still keeps of those taken after the first
// n (see Len).
func (b *logBuffer) Since(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	skip := max(0, n-(b.total-len(b.lines)))
	if skip > len(b.lines) {
		return ""
	}
	return strings.Join(b.lines[skip:], "\n")
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.lines
	if b.max > 0 && len(lines) > b.max {
		lines = lines[len(lines)-b.max:]
	}
	return strings.Join(lines, "\n")
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
