package embed_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/pki"
	"github.com/concord-kv/concord/internal/wait"
)

var gossipKey = bytes.Repeat([]byte{7}, 32)

// certs is a cluster CA with its node certificates in a directory.
type certs struct {
	t    *testing.T
	dir  string
	ca   pki.CA
	pool *x509.CertPool
	file string // the CA certificate
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	ca, pair, err := pki.NewCA("test cluster", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &certs{t: t, dir: t.TempDir(), ca: ca, pool: x509.NewCertPool()}
	c.pool.AddCert(ca.Cert)
	if c.file, _, err = pair.Write(c.dir, "ca"); err != nil {
		t.Fatal(err)
	}
	return c
}

// node issues the certificate of node name, valid on loopback from now on.
func (c *certs) node(name string, from time.Time) pki.PeerFiles {
	c.t.Helper()
	pair, err := c.ca.Issue(name, []string{"127.0.0.1"}, from, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	cert, key, err := pair.Write(c.dir, name)
	if err != nil {
		c.t.Fatal(err)
	}
	return pki.PeerFiles{CA: c.file, Cert: cert, Key: key}
}

// tlsConfig is a client configuration of the cluster holding the
// certificate of files (none if nil).
func (c *certs) tlsConfig(files *pki.PeerFiles) *tls.Config {
	c.t.Helper()
	if files == nil {
		return &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS13}
	}
	p, err := pki.LoadPeer(*files, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return p.ClientConfig()
}

// secureConfig is the configuration of a node of a cluster with peer mTLS
// from files (none if zero) and gossip encrypted with key (none if nil).
func secureConfig(files pki.PeerFiles, key []byte, join ...string) embed.Config {
	cfg := embed.Config{Node: quiet(node.DefaultConfig()), APIAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0"}
	cfg.Node.Partitions = 16
	cfg.Node.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:0", FastGossip: true, HandoffInterval: 20 * time.Millisecond, Join: join, JoinTimeout: 3 * time.Second}
	if key != nil {
		cfg.Node.Cluster.GossipKeys = [][]byte{key}
	}
	cfg.PeerCA, cfg.PeerCert, cfg.PeerKey = files.CA, files.Cert, files.Key
	return cfg
}

func start(t *testing.T, cfg embed.Config) *embed.Embedded {
	t.Helper()
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// peerCalls makes every peer call to node id with c and returns their
// errors by name.
func peerCalls(ctx context.Context, c *peer.Client, id string) map[string]error {
	ns, key := "default", []byte("k")
	forged := dvv.Object{}.Update("attacker", dvv.Clock{}, dvv.Sibling{Value: []byte("forged"), Timestamp: 1})
	tomb := dvv.Object{}.Update("attacker", dvv.Clock{}, dvv.Sibling{Tombstone: true, Timestamp: 1})
	out := map[string]error{}
	_, out["Replicate"] = c.Replicate(ctx, id, []peer.Object{{Namespace: ns, Key: key, Object: forged}}, true, "")
	_, out["Read"] = c.Read(ctx, id, ns, key)
	_, _, out["Coordinate"] = c.Coordinate(ctx, id, peer.CoordinateRequest{Namespace: ns, Key: key, Value: []byte("forged")})
	_, out["Tree"] = c.Tree(ctx, id, 0)
	_, out["Segment"] = c.Segment(ctx, id, 0, []uint32{0})
	_, out["Purge"] = c.Purge(ctx, id, []peer.Object{{Namespace: ns, Key: key, Object: tomb}})
	_, out["FetchModule"] = c.FetchModule(ctx, id, strings.Repeat("00", 32))
	tr := c.Transfer(ctx, id, peer.TransferRequest{})
	for tr.Next() {
	}
	out["Transfer"] = tr.Err()
	tr.Close()
	return out
}

// TestPeerPortIsForMembersOnly: a cluster under peer mTLS and gossip
// encryption forms and replicates; a process without a certificate of the
// cluster CA is refused on every peer call, and nothing it sent changes
// anything; a process with one is served.
func TestPeerPortIsForMembersOnly(t *testing.T) {
	t.Parallel()
	c := newCerts(t)
	n1 := start(t, secureConfig(c.node("n1", time.Now()), gossipKey))
	n2 := start(t, secureConfig(c.node("n2", time.Now()), gossipKey, n1.Node().GossipAddr()))
	if n1.Node().ID() != "n1" || n2.Node().ID() != "n2" {
		t.Fatalf("node IDs %s, %s: want the names of their certificates", n1.Node().ID(), n2.Node().ID())
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := embed.FormCluster(ctx, n1.Node(), n2.Node()); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Node().Put(ctx, node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v"), W: 2}); err != nil {
		t.Fatalf("a write to both nodes over mTLS: %v", err)
	}

	other := newCerts(t)
	outsiders := map[string]peer.HTTPClient{
		"plaintext":                   peer.NewPlaintextClient(nil),
		"TLS without a certificate":   peer.NewTLSClient(c.tlsConfig(nil), nil),
		"a certificate of another CA": peer.NewTLSClient(other.tlsConfig(ptr(other.node("n3", time.Now()))), nil),
	}
	resolve := func(string) (string, bool) { return n1.PeerAddr(), true }
	for name, hc := range outsiders {
		for call, err := range peerCalls(ctx, peer.NewClient("outsider", hc, resolve), "n1") {
			if !errors.Is(err, peer.ErrNoAnswer) {
				t.Errorf("%s: %s got %v, want refused (no answer)", name, call, err)
			}
		}
	}
	res, err := n1.Node().Get(ctx, node.GetRequest{Namespace: "default", Key: []byte("k"), R: 2})
	if err != nil || len(res.Object.Siblings()) != 1 || string(res.Object.Siblings()[0].Value) != "v" {
		t.Fatalf("after the outsiders: %v, %v; want the one value v", res.Object.Siblings(), err)
	}

	member := peer.NewClient("n3", peer.NewTLSClient(c.tlsConfig(ptr(c.node("n3", time.Now()))), nil), resolve)
	if _, err := member.Tree(ctx, "n1", 0); err != nil {
		t.Errorf("a holder of a cluster certificate: %v", err)
	}
	// Its hot calls go over a peer stream, under the same mutual TLS.
	if err := wait.Until(ctx, func() bool { return member.Streaming("n1") }); err != nil {
		t.Fatalf("a member's peer stream did not open: %v", err)
	}
	if _, err := member.Read(ctx, "n1", "default", []byte("k")); err != nil {
		t.Errorf("a read over a member's peer stream: %v", err)
	}
	for name, hc := range outsiders {
		outsider := peer.NewClient("outsider", hc, resolve)
		for range 20 { // each read leaves time for a stream to open, were it let in
			if outsider.Streaming("n1") {
				t.Errorf("%s: a peer stream opened", name)
			}
			_, err := outsider.Read(ctx, "n1", "default", []byte("k"))
			if !errors.Is(err, peer.ErrNoAnswer) {
				t.Errorf("%s: Read got %v, want refused (no answer)", name, err)
			}
		}
	}
}

// TestStagedJoinNeedsProof: a node that gossips with the cluster but holds
// no certificate of the cluster CA (another CA's, or none) cannot be
// staged; one that does can.
func TestStagedJoinNeedsProof(t *testing.T) {
	t.Parallel()
	c, other := newCerts(t), newCerts(t)
	n1 := start(t, secureConfig(c.node("n1", time.Now()), gossipKey))
	seed := n1.Node().GossipAddr()
	foreign := start(t, secureConfig(other.node("foreign", time.Now()), gossipKey, seed))
	plainCfg := secureConfig(pki.PeerFiles{}, gossipKey, seed)
	plainCfg.Node.NodeID = "plain"
	start(t, plainCfg)
	good := start(t, secureConfig(c.node("good", time.Now()), gossipKey, seed))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"foreign", "plain", "good"} {
		if wait.Until(ctx, func() bool { return n1.Node().Alive(id) }) != nil {
			t.Fatalf("%s never appeared in gossip", id)
		}
	}
	for _, id := range []string{"foreign", "plain", foreign.PeerAddr()} {
		_, err := n1.Node().StageJoin(id)
		var pre *errs.PreconditionError
		if !errors.As(err, &pre) || !strings.Contains(err.Error(), "did not prove") {
			t.Errorf("stage %s: got %v, want refused for lack of proof", id, err)
		}
	}
	if staged := n1.Node().Staged(); len(staged) != 0 {
		t.Errorf("staged: %v", staged)
	}
	if _, err := n1.Node().StageJoin("good"); err != nil {
		t.Errorf("stage a node with a cluster certificate: %v", err)
	}
	_ = good
}

// TestGossipKeyKeepsOthersOut: a node with another gossip key, or none,
// cannot join the cluster: its start fails and the cluster never sees it.
func TestGossipKeyKeepsOthersOut(t *testing.T) {
	t.Parallel()
	n1 := start(t, secureConfig(pki.PeerFiles{}, gossipKey))
	for name, key := range map[string][]byte{"other-key": bytes.Repeat([]byte{8}, 32), "no-key": nil} {
		cfg := secureConfig(pki.PeerFiles{}, key, n1.Node().GossipAddr())
		cfg.Node.NodeID = name
		e, err := embed.Start(t.Context(), cfg)
		if err == nil {
			_ = e.Close()
			t.Errorf("%s joined", name)
		}
		if _, ok := memberIDs(n1.Node())[name]; ok {
			t.Errorf("the cluster knows %s", name)
		}
	}
}

func memberIDs(n *node.Node) map[string]bool {
	out := map[string]bool{}
	for _, m := range n.Members() {
		out[m.ID] = true
	}
	return out
}

// TestPeerTLSStartErrors: bad peer certificates are start-up errors that
// say what is wrong.
func TestPeerTLSStartErrors(t *testing.T) {
	t.Parallel()
	c, other := newCerts(t), newCerts(t)
	good := c.node("n1", time.Now())
	foreign := other.node("n1", time.Now())
	expired := c.node("old", time.Now().Add(-3*time.Hour))
	for _, tt := range []struct {
		name   string
		files  pki.PeerFiles
		nodeID string
		want   string
	}{
		{"an expired certificate", expired, "", "expired at"},
		{"a certificate of another CA", pki.PeerFiles{CA: good.CA, Cert: foreign.Cert, Key: foreign.Key}, "", "not a node certificate of the cluster CA"},
		{"an unreadable key", pki.PeerFiles{CA: good.CA, Cert: good.Cert, Key: good.Key + ".missing"}, "", "load the node certificate"},
		{"a node ID the certificate does not name", good, "n2", `certificate ` + good.Cert + ` names "n1"`},
		{"mTLS without a gossip key", good, "", "without a gossip key"},
	} {
		cfg := secureConfig(tt.files, nil)
		cfg.Node.NodeID = tt.nodeID
		e, err := embed.Start(t.Context(), cfg)
		if err == nil {
			_ = e.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
