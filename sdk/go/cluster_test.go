package concord_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
)

// startCluster runs three `concord serve` processes on loopback, forms a
// ring of them through the admin API, creates namespace ns with n replicas
// (buffered writes) and waits until every node has the ring, its
// partitions moved, and the namespace.
func startCluster(t *testing.T, ns string, n uint32) []*procs.Node {
	t.Helper()
	ctx := t.Context()
	start := func(join string) *procs.Node {
		args := []string{"--gossip-addr", "127.0.0.1:" + strconv.Itoa(procs.FreePort(t)), "--partitions", "64"}
		if join != "" {
			args = append(args, "--join", join)
		}
		return procs.Start(t, t.TempDir(), args...)
	}
	a := start("")
	nodes := []*procs.Node{a, start(a.Gossip), start(a.Gossip)}
	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, a.Endpoint)
	eventually(t, "three alive members", func() bool {
		st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		alive := 0
		for _, m := range st.GetMembers() {
			if m.GetState() == adminv1.MemberState_MEMBER_STATE_ALIVE {
				alive++
			}
		}
		return err == nil && alive == 3
	})
	for _, n := range nodes[1:] {
		if _, err := admin.StageJoin(ctx, &adminv1.StageJoinRequest{Node: n.Endpoint}); err != nil {
			t.Fatalf("stage join %s: %v", n.Endpoint, err)
		}
	}
	if _, err := admin.CommitChanges(ctx, &adminv1.CommitChangesRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: ns, Settings: &adminv1.NamespaceSettings{
		N: n, Durability: adminv1.Durability_DURABILITY_BUFFERED,
	}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ring, handoffs and namespace on every node", func() bool {
		for _, n := range nodes {
			c := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, n.Endpoint)
			st, err := c.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
			if err != nil || st.GetRingEpoch() < 2 {
				return false
			}
			for _, h := range st.GetHandoffs() {
				if !h.GetDone() {
					return false
				}
			}
			if _, err := c.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: ns}); err != nil {
				return false
			}
		}
		return true
	})
	return nodes
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.Within(t.Context(), 60*time.Second, cond); err != nil {
		t.Fatalf("timed out waiting for: %s", what)
	}
}

// sumMetric adds up an unlabelled metric over the nodes.
func sumMetric(ctx context.Context, t *testing.T, nodes []*procs.Node, name string) float64 {
	t.Helper()
	var sum float64
	for _, n := range nodes {
		v := procs.Metric(ctx, testcred.HTTPClient, n.Admin, name)
		if v < 0 {
			t.Fatalf("%s: no %s", n.Admin, name)
		}
		sum += v
	}
	return sum
}

// countingClient is an HTTP client that counts the requests it sends, by
// host and by RPC method.
type countingClient struct {
	next *http.Client

	mu       sync.Mutex
	byHost   map[string]int
	byMethod map[string]int
	byCall   map[string]int // "host method"
}

func newCountingClient() *countingClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &countingClient{next: &http.Client{Transport: tr}, byHost: map[string]int{}, byMethod: map[string]int{}, byCall: map[string]int{}}
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	c.byHost[r.URL.Host]++
	c.byMethod[method]++
	c.byCall[r.URL.Host+" "+method]++
	c.mu.Unlock()
	return c.next.Do(r)
}

func (c *countingClient) host(h string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byHost[h]
}

func (c *countingClient) method(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byMethod[m]
}

func (c *countingClient) calls(host, method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byCall[host+" "+method]
}

func (c *countingClient) hosts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byHost)
}
