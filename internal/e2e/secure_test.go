package e2e_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/internal/pki"
	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/tlstest"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// peerCerts writes a cluster CA (as `concord cert ca` does) and a
// certificate for each node (as `concord cert node NAME --host 127.0.0.1`
// does) into dir.
func peerCerts(t *testing.T, dir string, nodes ...string) (caFile string, files map[string]pki.PeerFiles) {
	t.Helper()
	now := time.Now()
	ca, caPair, err := pki.NewCA("concord test cluster CA", now, pki.DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	caFile, _, err = caPair.Write(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	files = map[string]pki.PeerFiles{}
	for _, name := range nodes {
		pair, err := ca.Issue(name, []string{"127.0.0.1", "localhost"}, now, pki.DefaultNodeValidity)
		if err != nil {
			t.Fatal(err)
		}
		cert, key, err := pair.Write(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = pki.PeerFiles{CA: caFile, Cert: cert, Key: key}
	}
	return caFile, files
}

// tlsHTTPClient speaks HTTP/2 (ALPN h2) over TLS, trusting cfg's roots.
func tlsHTTPClient(t *testing.T, cfg *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func wantCode(t *testing.T, what string, err error, code connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != code {
		t.Errorf("%s: got %v (code %v), want %v", what, err, got, code)
	}
}

// TestSecureProcessCluster runs three real `concord serve` processes on
// loopback with every protection on: TLS on the client API, mutual TLS
// from a cluster CA on the peer port, an encrypted gossip key and tokens.
// Quorum writes and reads across all three nodes work over TLS with the
// admin credential; a read token of one namespace can read it, cannot
// write it and cannot see another namespace; a client that does not trust
// the API's CA gets a TLS error; a node whose certificate another CA
// signed cannot start against the cluster CA, and, with its own CA, is
// refused a staged join.
func TestSecureProcessCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	certDir := t.TempDir()
	_, peer := peerCerts(t, certDir, "n1", "n2", "n3")
	api := tlstest.Valid(t)
	gossipKey := make([]byte, 32)
	_, _ = rand.Read(gossipKey)
	gossipEnv := "CONCORD_GOSSIP_KEY=" + base64.StdEncoding.EncodeToString(gossipKey)

	args := func(f pki.PeerFiles, join string) []string {
		a := []string{
			"--gossip-addr", "127.0.0.1:" + strconv.Itoa(procs.FreePort(t)),
			"--partitions", "64", "--log-level", "info",
			"--tls-cert", api.Cert, "--tls-key", api.Key,
			"--peer-ca", f.CA, "--peer-cert", f.Cert, "--peer-key", f.Key,
		}
		if join != "" {
			a = append(a, "--join", join)
		}
		return a
	}
	start := func(f pki.PeerFiles, join string) *procs.Node {
		return procs.StartWith(t, t.TempDir(), procs.Options{Args: args(f, join), Env: []string{gossipEnv}, TLS: api.ClientConfig()})
	}
	a := start(peer["n1"], "")
	b := start(peer["n2"], a.Gossip)
	c := start(peer["n3"], a.Gossip)
	for _, n := range []*procs.Node{a, b, c} {
		if !strings.HasPrefix(n.Endpoint, "https://") {
			t.Fatalf("the API of %s is not served over TLS", n.Endpoint)
		}
	}

	// The admin credential (CONCORD_ADMIN_TOKEN at n1's first start) over
	// HTTP/2 and TLS.
	adminHTTP := testcred.Client(tlsHTTPClient(t, api.ClientConfig()).Transport)
	admin := adminv1connect.NewAdminServiceClient(adminHTTP, a.Endpoint)
	eventually(t, 30*time.Second, "three alive members", func() bool {
		st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		alive := 0
		for _, m := range st.GetMembers() {
			if m.GetState() == adminv1.MemberState_MEMBER_STATE_ALIVE {
				alive++
			}
		}
		return err == nil && alive == 3
	})
	for _, id := range []string{"n2", "n3"} { // the node IDs the certificates name
		if _, err := admin.StageJoin(ctx, &adminv1.StageJoinRequest{Node: id}); err != nil {
			t.Fatalf("stage join %s: %v", id, err)
		}
	}
	if _, err := admin.CommitChanges(ctx, &adminv1.CommitChangesRequest{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ring on every node", func() bool {
		for _, n := range []*procs.Node{a, b, c} {
			st, err := adminv1connect.NewAdminServiceClient(adminHTTP, n.Endpoint).ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
			if err != nil || st.GetRingEpoch() < 2 {
				return false
			}
		}
		return true
	})

	// W=3 then R=3: every replica, over mTLS, answered.
	three := uint32(3)
	kvA := kvv1connect.NewKVServiceClient(adminHTTP, a.Endpoint)
	if _, err := kvA.Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v"), W: three}); err != nil {
		t.Fatalf("Put with W=3 over TLS: %v", err)
	}
	kvC := kvv1connect.NewKVServiceClient(adminHTTP, c.Endpoint)
	res, err := kvC.Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte("k"), R: three})
	if err != nil || !res.GetFound() || len(res.GetSiblings()) != 1 || string(res.GetSiblings()[0].GetValue()) != "v" {
		t.Fatalf("Get with R=3 over TLS from another node: %v, %v; want the one value v", res.GetSiblings(), err)
	}

	// A read token of namespace alpha.
	for _, name := range []string{"alpha", "beta"} {
		if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: name}); err != nil {
			t.Fatalf("create namespace %s: %v", name, err)
		}
	}
	eventually(t, 30*time.Second, "alpha and beta on every node", func() bool {
		for _, n := range []*procs.Node{a, b, c} {
			for _, name := range []string{"alpha", "beta"} {
				if _, err := adminv1connect.NewAdminServiceClient(adminHTTP, n.Endpoint).GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: name}); err != nil {
					return false
				}
			}
		}
		return true
	})
	for _, name := range []string{"alpha", "beta"} {
		if _, err := kvA.Put(ctx, &kvv1.PutRequest{Namespace: name, Key: []byte("k"), Value: []byte(name)}); err != nil {
			t.Fatalf("Put into %s: %v", name, err)
		}
	}
	tok, err := admin.CreateToken(ctx, &adminv1.CreateTokenRequest{Namespace: "alpha", Scopes: []adminv1.TokenScope{adminv1.TokenScope_TOKEN_SCOPE_READ}})
	if err != nil {
		t.Fatalf("create a read token: %v", err)
	}
	// Through another node than the one that made it: tokens are
	// replicated.
	reader := kvv1connect.NewKVServiceClient(tlsHTTPClient(t, api.ClientConfig()), b.Endpoint,
		connect.WithInterceptors(concord.Bearer(tok.GetSecret())))
	eventually(t, 30*time.Second, "the read token reads alpha on another node", func() bool {
		res, err := reader.Get(ctx, &kvv1.GetRequest{Namespace: "alpha", Key: []byte("k")})
		return err == nil && res.GetFound() && string(res.GetSiblings()[0].GetValue()) == "alpha"
	})
	_, err = reader.Put(ctx, &kvv1.PutRequest{Namespace: "alpha", Key: []byte("k"), Value: []byte("no")})
	wantCode(t, "a read token's Put", err, connect.CodePermissionDenied)
	_, err = reader.Get(ctx, &kvv1.GetRequest{Namespace: "beta", Key: []byte("k")})
	wantCode(t, "a read token of alpha reading beta", err, connect.CodeNotFound)
	_, errMissing := reader.Get(ctx, &kvv1.GetRequest{Namespace: "gamma", Key: []byte("k")})
	wantCode(t, "a read token reading a namespace that does not exist", errMissing, connect.CodeNotFound)
	_, err = reader.Put(ctx, &kvv1.PutRequest{Namespace: "beta", Key: []byte("k"), Value: []byte("no")})
	wantCode(t, "a read token of alpha writing beta", err, connect.CodeNotFound)

	// A client that does not trust the API's CA (the system roots only).
	stranger := kvv1connect.NewKVServiceClient(testcred.Client(&http.Transport{}), a.Endpoint)
	_, err = stranger.Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte("k")})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client without the CA: got %v, want a TLS error about an unknown authority", err)
	}
	t.Logf("a client without the CA: %v", err)

	// A node whose certificate another CA signed.
	_, foreign := peerCerts(t, t.TempDir(), "rogue")
	rogue := foreign["rogue"]

	// Against the cluster CA, it does not start: a clear error, no hang.
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	wrongCA := rogue
	wrongCA.CA = peer["n1"].CA
	cmd := exec.CommandContext(startCtx, procs.Binary(t), append([]string{"serve",
		"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--api-addr", "127.0.0.1:0", "--peer-addr", "127.0.0.1:0", "--admin-addr", "",
	}, args(wrongCA, a.Gossip)...)...)
	cmd.Env = append(cmd.Environ(), "CONCORD_ADMIN_TOKEN="+testcred.AdminToken, gossipEnv)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if startCtx.Err() != nil {
		t.Fatalf("a node with another CA's certificate did not exit in 60s:\n%s", out)
	}
	if !errors.As(err, &exit) || !strings.Contains(string(out), "is not a node certificate of the cluster CA") {
		t.Errorf("a node with another CA's certificate: %v, output:\n%s\nwant a start-up error naming the certificate and the CA", err, out)
	}
	t.Logf("a node with another CA's certificate: %v: %s", err, strings.TrimSpace(string(out)))

	// With its own CA it gossips (it has the gossip key) but cannot be
	// staged: it proves no membership of this cluster.
	start(rogue, a.Gossip)
	eventually(t, 30*time.Second, "the rogue node in gossip", func() bool {
		st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
		for _, m := range st.GetMembers() {
			if m.GetId() == "rogue" {
				return err == nil
			}
		}
		return false
	})
	_, err = admin.StageJoin(ctx, &adminv1.StageJoinRequest{Node: "rogue"})
	wantCode(t, "staging the node of another CA", err, connect.CodeFailedPrecondition)
	if err != nil && !strings.Contains(err.Error(), "did not prove it is a member of this cluster") {
		t.Errorf("staging the node of another CA: %v, want it to say the node did not prove membership", err)
	}
	t.Logf("staging the node of another CA: %v", err)
	st, err := admin.ClusterStatus(ctx, &adminv1.ClusterStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetStaged()) != 0 {
		t.Errorf("staged after the refused join: %v", st.GetStaged())
	}
	// The cluster still serves quorum calls.
	if _, err := kvA.Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte("k2"), Value: []byte("v2"), W: three}); err != nil {
		t.Errorf("Put with W=3 after the rogue node: %v", err)
	}
}
