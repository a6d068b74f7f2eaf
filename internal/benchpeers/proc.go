package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

// server is one server process of a peer. Its output goes to a log file in
// the run's directory, kept after the run for a look when a peer fails.
type server struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// startServer runs argv with extra environment variables, logging to
// logDir/name.log. The kernel kills the process if this program dies first.
func startServer(logDir, name string, env []string, argv ...string) (*server, error) {
	path := logDir + "/" + name + ".log"
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, exited: make(chan struct{}), log: path}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// running reports whether the process has not exited.
func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not exited 10 seconds
// later.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// failed describes a server that did not come up, pointing at its log.
func (s *server) failed(what string, err error) error {
	state := "running"
	if !s.running() {
		state = "exited"
	}
	return fmt.Errorf("%s: %s (%s; log %s): %w", s.name, what, state, s.log, err)
}

// stopAll stops every server, concurrently.
func stopAll(servers []*server) {
	done := make(chan struct{}, len(servers))
	for _, s := range servers {
		go func() { s.stop(); done <- struct{}{} }()
	}
	for range servers {
		<-done
	}
}

// pidsOf returns the servers' process IDs.
func pidsOf(servers []*server) []int {
	out := make([]int, len(servers))
	for i, s := range servers {
		out[i] = s.pid()
	}
	return out
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// They come from the kernel's ephemeral range, so they stay clear of the
// fixed ports (7700 and up) a concord started by hand listens on.
func freePorts(n int) ([]int, error) {
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so none repeats
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// probeClient checks readiness; a probe of a hung server gives up.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// waitHTTP waits up to d until url answers 200 OK, or s exits.
func waitHTTP(ctx context.Context, s *server, url string, d time.Duration) error {
	err := wait.Within(ctx, d, func() bool {
		if !s.running() {
			return true
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := probeClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if err == nil && !s.running() {
		err = errors.New("exited")
	}
	if err != nil {
		return s.failed("not ready at "+url, err)
	}
	return nil
}

// waitTCP waits up to d until addr accepts connections, or s exits.
func waitTCP(ctx context.Context, s *server, addr string, d time.Duration) error {
	err := wait.Within(ctx, d, func() bool {
		if !s.running() {
			return true
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if err == nil && !s.running() {
		err = errors.New("exited")
	}
	if err != nil {
		return s.failed("not listening on "+addr, err)
	}
	return nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// processCPU is the CPU time (user + system, all threads) process pid has
// used, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count the fields after its closing one. utime and stime are fields
	// 14 and 15, so the 12th and 13th after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// serversCPU is the CPU time the processes have used in total.
func serversCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		d, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// selfCPU is the CPU time this process has used (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time the whole machine has been busy (user, nice,
// system, irq, softirq and steal of every core), from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system _ _ irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
