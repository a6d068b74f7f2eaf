package faultlab_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// labNet is one test's network: a bridge in the root namespace with the
// gateway address of a private /24, and one network namespace per host,
// joined to the bridge by a veth pair. The test process reaches every host
// through the bridge; partitions are nftables rules inside the hosts'
// namespaces that drop traffic between hosts only, so the clients (the
// gateway address) still reach every node, as in Jepsen.
type labNet struct {
	t      testing.TB
	id     string // unique per run: the test binary's pid and a counter
	bridge string
	subnet string // "10.213.X."
	hosts  []*host
}

// host is one network namespace with one address.
type host struct {
	name string // short label: a, b, c, …
	ns   string // the namespace's name
	ip   string
}

const (
	nsPrefix     = "concord-fl-" // namespaces: concord-fl-<run>-<host>
	bridgePrefix = "cfb"         // bridges: cfb<run>
	vethPrefix   = "cfv"         // root ends of the veth pairs: cfv<run><i>
	nftTable     = "inet concord_faultlab"
)

var netSeq atomic.Int64

// newLabNet creates the bridge and one namespace per name; everything is
// torn down in t.Cleanup, whatever the test's outcome. It first removes
// what runs of test binaries that no longer exist left behind.
func newLabNet(t testing.TB, names []string) *labNet {
	t.Helper()
	sweepStale(t)
	id := strconv.FormatInt(int64(os.Getpid()), 36) + "x" + strconv.FormatInt(netSeq.Add(1), 36)
	l := &labNet{t: t, id: id, bridge: bridgePrefix + id, subnet: freeSubnet(t)}
	t.Cleanup(l.teardown)
	l.must("ip", "link", "add", l.bridge, "type", "bridge")
	l.must("ip", "addr", "add", l.subnet+"1/24", "dev", l.bridge)
	l.must("ip", "link", "set", l.bridge, "up")
	for i, name := range names {
		h := &host{name: name, ns: nsPrefix + id + "-" + name, ip: l.subnet + strconv.Itoa(10+i)}
		veth := vethPrefix + id + strconv.FormatInt(int64(i), 36)
		l.must("ip", "netns", "add", h.ns)
		l.hosts = append(l.hosts, h)
		l.must("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		l.must("ip", "link", "set", veth, "master", l.bridge)
		l.must("ip", "link", "set", veth, "up")
		l.must("ip", "-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		l.must("ip", "-n", h.ns, "link", "set", "eth0", "up")
		l.must("ip", "-n", h.ns, "link", "set", "lo", "up")
	}
	return l
}

// teardown deletes the namespaces (which deletes their veth pairs) and the
// bridge. Processes still inside a namespace do not keep it from being
// unlinked; the harness kills them first anyway.
func (l *labNet) teardown() {
	for _, h := range l.hosts {
		if out, err := run("ip", "netns", "del", h.ns); err != nil {
			l.t.Logf("teardown: %v: %s", err, out)
		}
	}
	if out, err := run("ip", "link", "del", l.bridge); err != nil {
		l.t.Logf("teardown: %v: %s", err, out)
	}
}

// exec is the command prefix that runs a program inside h's namespace.
func (h *host) exec() []string { return []string{"ip", "netns", "exec", h.ns} }

// partition drops all traffic between hosts of different groups (both
// directions, established connections included) until heal. Hosts in no
// group keep talking to everyone.
func (l *labNet) partition(groups ...[]*host) {
	l.t.Helper()
	groupOf := map[*host]int{}
	for g, hs := range groups {
		for _, h := range hs {
			groupOf[h] = g
		}
	}
	for h, g := range groupOf {
		var others []string
		for o, og := range groupOf {
			if og != g {
				others = append(others, o.ip)
			}
		}
		set := "{ " + strings.Join(others, ", ") + " }"
		l.nft(h, fmt.Sprintf(`table %[1]s {
	chain input { type filter hook input priority 0; policy accept; ip saddr %[2]s drop; }
	chain output { type filter hook output priority 0; policy accept; ip daddr %[2]s drop; }
}
`, nftTable, set))
	}
}

// heal removes every partition rule.
func (l *labNet) heal() {
	l.t.Helper()
	for _, h := range l.hosts {
		l.nft(h, "")
	}
}

// nft replaces h's rules with table in one transaction (an empty table:
// no rules).
func (l *labNet) nft(h *host, table string) {
	l.t.Helper()
	script := fmt.Sprintf("table %[1]s\ndelete table %[1]s\n%[2]s", nftTable, table)
	cmd := exec.Command("ip", "netns", "exec", h.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("nft in %s: %v\n%s\nscript:\n%s", h.ns, err, out, script)
	}
}

func (l *labNet) must(args ...string) {
	l.t.Helper()
	if out, err := run(args...); err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func run(args ...string) ([]byte, error) {
	return exec.Command(args[0], args[1:]...).CombinedOutput()
}

// freeSubnet picks a 10.213.X.0/24 no interface of the machine uses.
func freeSubnet(t testing.TB) string {
	t.Helper()
	out, err := run("ip", "-4", "-o", "addr", "show")
	if err != nil {
		t.Fatalf("ip addr: %v\n%s", err, out)
	}
	for range 100 {
		s := fmt.Sprintf("10.213.%d.", 1+rand.IntN(254))
		if !bytes.Contains(out, []byte(" "+s)) {
			return s
		}
	}
	t.Fatal("no free 10.213.X.0/24 subnet")
	return ""
}

// sweepStale deletes the namespaces and bridges of lab runs whose test
// binary is gone (killed by a timeout before its cleanup ran). Only names
// with the lab's prefixes are touched.
func sweepStale(t testing.TB) {
	out, err := run("ip", "netns", "list")
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if rest, ok := strings.CutPrefix(name, nsPrefix); ok && staleRun(rest) {
			_, _ = run("ip", "netns", "del", name)
		}
	}
	out, _ = run("ip", "-o", "link", "show", "type", "bridge")
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if rest, ok := strings.CutPrefix(name, bridgePrefix); ok && staleRun(rest) {
			_, _ = run("ip", "link", "del", name)
		}
	}
}

// staleRun reports whether a run ID ("<pid base 36>x…") names a process
// that no longer exists.
func staleRun(id string) bool {
	pidText, _, ok := strings.Cut(id, "x")
	if !ok {
		return false
	}
	pid, err := strconv.ParseInt(pidText, 36, 64)
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(int(pid), 0) == syscall.ESRCH
}

// requireLab fails unless the machine can run the lab: it needs root (as
// make test does, and CI runs it), and iproute2 and nftables, which it
// installs from Debian's packages when they are missing (CI runs on a
// clean machine).
func requireLab(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fault lab needs root (network namespaces, nftables): run the tests as root, as make test and CI do")
	}
	ensureTool(t, "ip", "iproute2")
	ensureTool(t, "nft", "nftables")
}

// ensureTool installs pkg with apt-get when cmd is not on the PATH.
func ensureTool(t testing.TB, cmd, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(cmd); err == nil {
		return
	}
	t.Logf("%s is missing: installing the %s package", cmd, pkg)
	install := func() ([]byte, error) {
		c := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg)
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return c.CombinedOutput()
	}
	if _, err := install(); err == nil {
		return
	}
	if out, err := run("apt-get", "update", "-qq"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	if out, err := install(); err != nil {
		t.Fatalf("apt-get install %s: %v\n%s", pkg, err, out)
	}
}
