package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/bench"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// concordNodes is the size of the concord cluster.
const concordNodes = 3

// concordNamespace is the namespace the load runs in: N=3, R=2, W=2, every
// acknowledged write synced to disk.
// It is created with the binary's own CLI, so that a --baseline build from
// before an admin API change creates it too.
var concordNamespace = &adminv1.Namespace{Name: "bench", N: 3, R: 2, W: 2, Durability: adminv1.Durability_DURABILITY_SYNC}

// createNamespaceArgs is the CLI command that creates concordNamespace.
func createNamespaceArgs(bin, endpoint string) []string {
	ns := concordNamespace
	return []string{bin, "namespace", "create", ns.GetName(), "--endpoint", endpoint,
		"--n", fmt.Sprint(ns.GetN()), "--r", fmt.Sprint(ns.GetR()), "--w", fmt.Sprint(ns.GetW()), "--durability", "sync"}
}

// concordPeer is three `concord serve` processes of the --concord binary
// formed into one cluster the way an operator forms one: the second and
// third join the first's gossip, the first stages their joins and commits,
// and the load starts once every node has the ring and every partition has
// moved.
var concordPeer = concordClusterPeer("concord", "", "", func(e *env) string { return e.concord })

// concordLWWPeer is the concord peer with the built-in lww resolver
// uploaded on_write to the bench namespace: a write that meets siblings
// (the load's clients update the same hot keys concurrently, each after
// the last version it saw) merges them into the latest, so reads see one
// version, as in the last-writer-wins stores it is compared with. Against
// concordPeer it shows what keeping concurrent versions costs.
var concordLWWPeer = concordClusterPeer("concord-lww", "", "lww", func(e *env) string { return e.concord })

// baselinePeer is the concord peer started from the --baseline binary, an
// earlier build, so that one run compares two builds the way it compares
// concord with the other peers.
var baselinePeer = concordClusterPeer("baseline", "the concord peer's setup started from the --baseline binary: ", "", func(e *env) string { return e.baseline })

// concordClusterPeer is a three-node concord cluster named name, started
// from the binary that binary picks out of the environment, with the
// built-in resolver named resolver on_write in the bench namespace (none:
// ""); aboutPrefix goes before the description of the setup.
func concordClusterPeer(name, aboutPrefix, resolver string, binary func(*env) string) peer {
	about := aboutPrefix + "3 `concord serve` processes on loopback, authentication on, formed with cluster join/commit; namespace N=3 R=2 W=2 durability sync"
	if resolver != "" {
		about += ", built-in resolver " + resolver + " on_write"
	}
	return peer{
		name:  name,
		about: about + "; Go SDK, one HTTP/1.1 connection per client, client i on node i mod 3",
		start: func(ctx context.Context, e *env) (instance, error) { return startConcord(ctx, e, binary(e), resolver) },
	}
}

// startConcord starts three nodes from the concord binary bin and forms
// them into a cluster with the bench namespace (and its resolver, if not
// "").
func startConcord(ctx context.Context, e *env, bin, resolver string) (instance, error) {
	ports, err := freePorts(3 * concordNodes)
	if err != nil {
		return nil, err
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	c := &concordInstance{token: token, bin: bin, resolver: resolver, updates: e.updates}
	var gossip0 string
	for i := range concordNodes {
		api, peer, gossip := loopback(ports[3*i]), loopback(ports[3*i+1]), loopback(ports[3*i+2])
		args := []string{bin, "serve", "--data-dir", filepath.Join(e.dir, fmt.Sprintf("concord%d", i+1)),
			"--api-addr", api, "--peer-addr", peer, "--gossip-addr", gossip, "--admin-addr", "",
			"--log-format", "json", "--log-level", "warn"}
		if i == 0 {
			gossip0 = gossip
		} else {
			args = append(args, "--join", gossip0)
		}
		s, err := startServer(e.dir, fmt.Sprintf("concord%d", i+1), []string{"CONCORD_ADMIN_TOKEN=" + token}, args...)
		if err != nil {
			c.close()
			return nil, err
		}
		c.servers = append(c.servers, s)
		c.endpoints = append(c.endpoints, "http://"+api)
		if err := waitHTTP(ctx, s, "http://"+api+"/readyz", 60*time.Second); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := c.form(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

type concordInstance struct {
	servers   []*server
	endpoints []string
	token     string
	bin       string // the concord binary the nodes run
	resolver  string // the bench namespace's built-in resolver; "": none
	updates   string // how the clients write updates
}

// formTimeout bounds each step of forming the cluster.
const formTimeout = 60 * time.Second

// form makes the nodes one cluster and creates the namespace.
func (c *concordInstance) form(ctx context.Context) error {
	first := c.admin(0)
	alive := func() bool {
		st, err := first.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		n := 0
		for _, m := range st.GetMembers() {
			if m.GetState() == adminv1.MemberState_MEMBER_STATE_ALIVE {
				n++
			}
		}
		return err == nil && n == concordNodes
	}
	if err := wait.Within(ctx, formTimeout, alive); err != nil {
		return fmt.Errorf("concord: the nodes did not find each other through gossip: %w", err)
	}
	for _, e := range c.endpoints[1:] {
		if _, err := first.StageJoin(ctx, &adminv1.StageJoinRequest{Node: e}); err != nil {
			return fmt.Errorf("concord: stage the join of %s: %w", e, err)
		}
	}
	res, err := first.CommitChanges(ctx, &adminv1.CommitChangesRequest{})
	if err != nil {
		return fmt.Errorf("concord: commit the joins: %w", err)
	}
	if err := wait.Within(ctx, formTimeout, func() bool { return c.settled(ctx, res.GetRingEpoch()) }); err != nil {
		return fmt.Errorf("concord: ring epoch %d did not reach every node with its partitions moved: %w", res.GetRingEpoch(), err)
	}
	if err := c.cli(ctx, createNamespaceArgs(c.bin, c.endpoints[0])); err != nil {
		return fmt.Errorf("concord: create namespace %s: %w", concordNamespace.GetName(), err)
	}
	if c.resolver != "" {
		err := c.cli(ctx, []string{c.bin, "resolver", "upload", concordNamespace.GetName(), "--builtin", c.resolver, "--mode", "on_write", "--endpoint", c.endpoints[0]})
		if err != nil {
			return fmt.Errorf("concord: upload resolver %s: %w", c.resolver, err)
		}
	}
	// Namespaces spread by gossip: wait until every node knows it (and
	// its resolver).
	for i := range c.endpoints {
		admin := c.admin(i)
		err := wait.Within(ctx, formTimeout, func() bool {
			res, err := admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: concordNamespace.GetName()})
			return err == nil && (c.resolver == "" || res.GetNamespace().GetResolver() != nil)
		})
		if err != nil {
			return fmt.Errorf("concord: %s does not know namespace %s: %w", c.endpoints[i], concordNamespace.GetName(), err)
		}
	}
	return nil
}

// cli runs a concord CLI command (argv) with the admin credential.
func (c *concordInstance) cli(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "CONCORD_TOKEN="+c.token)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// settled reports whether every node has a ring of at least epoch and no
// partition still moving.
func (c *concordInstance) settled(ctx context.Context, epoch uint64) bool {
	for i := range c.endpoints {
		st, err := c.admin(i).ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		if err != nil || st.GetRingEpoch() < epoch {
			return false
		}
		for _, h := range st.GetHandoffs() {
			if !h.GetDone() {
				return false
			}
		}
	}
	return true
}

func (c *concordInstance) admin(i int) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(http.DefaultClient, c.endpoints[i], connect.WithInterceptors(concord.Bearer(c.token)))
}

func (c *concordInstance) clients(_ context.Context, n int) ([]bench.Store, func(), error) {
	stores, closeIdle := sdkClients(n, c.endpoints, concordNamespace.GetName(), c.token, c.updates)
	return stores, closeIdle, nil
}

func (c *concordInstance) pids() []int { return pidsOf(c.servers) }

func (c *concordInstance) versions() map[string]string {
	if len(c.servers) == 0 {
		return nil
	}
	return map[string]string{"concord": versionOf(c.servers[0].cmd.Path, "version")}
}

func (c *concordInstance) close() error { stopAll(c.servers); return nil }

// randomToken is a fresh admin credential (concord wants at least 20
// characters).
func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "bench-peers-" + hex.EncodeToString(b), nil
}
