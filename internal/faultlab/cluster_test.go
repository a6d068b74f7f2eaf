package faultlab_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// Every node listens on the same ports, each at its own namespace's
// address.
const (
	apiPort    = 7700
	peerPort   = 7701
	gossipPort = 7702
)

// serveFlags are the flags every lab node runs with, besides addresses and
// seeds. A small ring keeps handoff and anti-entropy rounds short.
var serveFlags = []string{"--partitions", "64", "--log-level", "info"}

// lab is a running cluster of concord processes, one per namespace.
type lab struct {
	t      *testing.T
	net    *labNet
	nodes  []*labNode
	logDir string
	http   *http.Client
}

// labNode is one node of the lab. Its fields are used by the test
// goroutine only, except the clients, which are safe anywhere.
type labNode struct {
	name   string
	host   *host
	proc   *procs.Node
	id     string
	paused bool
	admin  adminv1connect.AdminServiceClient
	kv     *concord.Client
}

// startLab starts one node per name in its own namespace, makes them one
// ring through the admin API, and waits until every node has it. From then
// on each node names all the others as seeds, so any restart, including a
// whole-cluster cold restart, finds its way back.
func startLab(t *testing.T, names []string) *lab {
	t.Helper()
	l := &lab{t: t, net: newLabNet(t, names), logDir: logDir(t)}
	l.http = testcred.Client(&http.Transport{MaxIdleConnsPerHost: 32, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext})
	t.Cleanup(l.http.CloseIdleConnections)
	for i, h := range l.net.hosts {
		var args []string
		if i > 0 {
			args = []string{"--join", l.gossipAddr(l.net.hosts[0])}
		}
		l.nodes = append(l.nodes, l.startNode(h, args))
	}
	first := l.nodes[0]
	eventually(t, 60*time.Second, "every node alive in the first node's view (if the nodes never see each other, check that the host does not filter bridged traffic: sysctl net.bridge.bridge-nf-call-iptables, the FORWARD chain)", throttled(200*time.Millisecond, func() bool {
		return aliveMembers(t.Context(), first.admin) == len(l.nodes)
	}))
	for _, n := range l.nodes {
		n.id = l.nodeID(first, n)
		if n != first {
			if _, err := first.admin.StageJoin(t.Context(), &adminv1.StageJoinRequest{Node: n.id}); err != nil {
				t.Fatalf("stage join %s: %v", n.name, err)
			}
		}
	}
	if _, err := first.admin.CommitChanges(t.Context(), &adminv1.CommitChangesRequest{}); err != nil {
		t.Fatalf("commit the first ring: %v", err)
	}
	l.waitSettled(120 * time.Second)
	for _, n := range l.nodes {
		var seeds []string
		for _, o := range l.nodes {
			if o != n {
				seeds = append(seeds, l.gossipAddr(o.host))
			}
		}
		n.proc.SetArgs(append(serveFlags[:len(serveFlags):len(serveFlags)], "--join", strings.Join(seeds, ","))...)
	}
	return l
}

func (l *lab) startNode(h *host, args []string) *labNode {
	l.t.Helper()
	p := procs.StartWith(l.t, l.t.TempDir(), procs.Options{
		Args:    append(serveFlags[:len(serveFlags):len(serveFlags)], args...),
		Wrap:    h.exec(),
		Host:    h.ip,
		APIPort: apiPort, PeerPort: peerPort, GossipPort: gossipPort,
		LogFile: filepath.Join(l.logDir, h.name+".log"),
	})
	return &labNode{
		name: h.name, host: h, proc: p,
		admin: adminv1connect.NewAdminServiceClient(l.http, p.Endpoint),
		kv:    concord.New(p.Endpoint, concord.WithHTTPClient(l.http)),
	}
}

func (l *lab) gossipAddr(h *host) string { return net.JoinHostPort(h.ip, strconv.Itoa(gossipPort)) }

// logDir is where the nodes' logs and the history go: $FAULTLAB_LOGS or a
// new temporary directory, removed when the test passes and named in the
// test log when it fails.
func logDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FAULTLAB_LOGS")
	if dir != "" {
		dir = filepath.Join(dir, t.Name()+"-"+time.Now().Format("20060102-150405"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "concord-faultlab-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FAULTLAB_LOGS") != "" {
			t.Logf("node logs and the operation history are in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// nodeID asks from's view of the cluster for n's node ID.
func (l *lab) nodeID(from, n *labNode) string {
	l.t.Helper()
	st, err := l.status(from)
	if err != nil {
		l.t.Fatalf("cluster status of %s: %v", from.name, err)
	}
	for _, m := range st.GetMembers() {
		if m.GetApiAddr() == strings.TrimPrefix(n.proc.Endpoint, "http://") {
			return m.GetId()
		}
	}
	l.t.Fatalf("%s does not know %s (%s)", from.name, n.name, n.proc.Endpoint)
	return ""
}

func (l *lab) status(n *labNode) (*adminv1.ClusterStatusResponse, error) {
	ctx, cancel := context.WithTimeout(l.t.Context(), 3*time.Second)
	defer cancel()
	return n.admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
}

// byID returns the node with the given ID.
func (l *lab) byID(id string) *labNode {
	for _, n := range l.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// settled reports whether the cluster is quiet: every node answers, sees
// every node alive, has the same ring epoch, no staged change, no handoff
// still moving, and keeps no hints.
func (l *lab) settled() (bool, string) {
	var epoch uint64
	for i, n := range l.nodes {
		st, err := l.status(n)
		if err != nil {
			return false, fmt.Sprintf("%s does not answer: %v", n.name, err)
		}
		if i == 0 {
			epoch = st.GetRingEpoch()
		} else if st.GetRingEpoch() != epoch {
			return false, fmt.Sprintf("%s has ring epoch %d, %s has %d", n.name, st.GetRingEpoch(), l.nodes[0].name, epoch)
		}
		for _, m := range st.GetMembers() {
			if m.GetState() != adminv1.MemberState_MEMBER_STATE_ALIVE && l.byID(m.GetId()) != nil {
				return false, fmt.Sprintf("%s sees %s as %v", n.name, l.byID(m.GetId()).name, m.GetState())
			}
		}
		if len(st.GetStaged()) > 0 {
			return false, fmt.Sprintf("%s has staged changes", n.name)
		}
		for _, h := range st.GetHandoffs() {
			if !h.GetDone() {
				return false, fmt.Sprintf("%s: partition %d still moving to %s", n.name, h.GetPartition(), h.GetTo())
			}
		}
		if b := l.metric(n, "concord_hint_backlog"); b != 0 {
			return false, fmt.Sprintf("%s keeps %v hints", n.name, b)
		}
	}
	return true, ""
}

// waitSettled waits until settled holds, and fails the test with the last
// reason it did not when d runs out.
func (l *lab) waitSettled(d time.Duration) time.Duration {
	l.t.Helper()
	start := time.Now()
	var why string
	cond := throttled(250*time.Millisecond, func() bool {
		var ok bool
		ok, why = l.settled()
		return ok
	})
	if err := wait.Within(l.t.Context(), d, cond); err != nil {
		l.t.Fatalf("the cluster did not settle in %v: %s", d, why)
	}
	return time.Since(start)
}

// metric reads one unlabelled metric from a node's /metrics (-1 if absent
// or unreachable).
func (l *lab) metric(n *labNode, name string) float64 {
	ctx, cancel := context.WithTimeout(l.t.Context(), 3*time.Second)
	defer cancel()
	return procs.Metric(ctx, l.http, n.proc.Admin, name)
}

// cli runs `concord ARGS --endpoint <via's API>`, as an operator would.
func (l *lab) cli(via *labNode, args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, procs.Binary(l.t), append(args, "--endpoint", via.proc.Endpoint)...)
	cmd.Env = append(os.Environ(), "CONCORD_TOKEN="+testcred.AdminToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("concord %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
