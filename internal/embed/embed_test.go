package embed_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/embed"
)

func quiet(c node.Config) node.Config {
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

func listener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	lis := listener(t)
	single := quiet(node.DefaultLocalConfig())
	cluster := quiet(node.DefaultConfig())
	cluster.Cluster = &node.ClusterConfig{}
	cases := []struct {
		name string
		cfg  embed.Config
		want string // "" for a valid configuration
	}{
		{"default", embed.DefaultConfig(), ""},
		{"single node", embed.Config{Node: single, APIAddr: "127.0.0.1:0", PeerAddr: "ignored:0"}, ""},
		{"listeners", embed.Config{Node: cluster, APIListener: lis, PeerListener: lis}, ""},
		{"no api", embed.Config{Node: single}, "no api address"},
		{"api twice", embed.Config{Node: single, APIAddr: "127.0.0.1:0", APIListener: lis}, "both a api address"},
		{"no peer", embed.Config{Node: cluster, APIAddr: "127.0.0.1:0"}, "no peer address"},
		{"peer listener alone", embed.Config{Node: single, APIAddr: "127.0.0.1:0", PeerListener: lis}, "without a cluster"},
		{"bad node", embed.Config{Node: node.Config{Partitions: 3}, APIAddr: "127.0.0.1:0"}, "power of two"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

// TestAdvertisedAddresses: a cluster node advertises each listener's port
// with its own host or the advertise host, and refuses to guess one for a
// listener on all interfaces.
func TestAdvertisedAddresses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, listen, host string
		want               string // a prefix of the advertised peer address; "" for a refusal
	}{
		{"loopback", "127.0.0.1:0", "", "127.0.0.1:"},
		{"advertise host", "127.0.0.1:0", "10.0.0.8", "10.0.0.8:"},
		{"IPv6 advertise host", "127.0.0.1:0", "::1", "[::1]:"},
		{"all interfaces", "0.0.0.0:0", "", ""},
		{"all interfaces with a host", "0.0.0.0:0", "10.0.0.7", "10.0.0.7:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := embed.Config{Node: quiet(node.DefaultConfig()), APIAddr: c.listen, PeerAddr: c.listen}
			cfg.Node.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:0", AdvertiseHost: c.host, FastGossip: true}
			cfg.InsecurePeer = true // about addresses; peertls_test.go is about the peer port's security
			e, err := embed.Start(t.Context(), cfg)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), "advertise host") {
					t.Fatalf("Start on all interfaces without an advertise host: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_, port, _ := net.SplitHostPort(e.PeerAddr())
			if got := e.Node().PeerAddr(); !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, ":"+port) {
				t.Fatalf("advertised peer address %s, want %s…:%s", got, c.want, port)
			}
			if cfg.Node.Cluster.PeerAddr != "" {
				t.Fatal("Start changed the caller's ClusterConfig")
			}
		})
	}
}

// TestCloseStopsServersThenNode: a node serves on a given listener until
// Close, which stops the server, closes the node and the listener, and may
// be called again.
func TestCloseStopsServersThenNode(t *testing.T) {
	t.Parallel()
	lis := listener(t)
	e, err := embed.Start(t.Context(), embed.Config{Node: quiet(node.DefaultLocalConfig()), APIListener: lis})
	if err != nil {
		t.Fatal(err)
	}
	if e.APIAddr() != lis.Addr().String() || e.PeerAddr() != "" {
		t.Fatalf("addresses: api %s (listener %s), peer %q", e.APIAddr(), lis.Addr(), e.PeerAddr())
	}
	res, err := http.Get("http://" + e.APIAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d %s", res.StatusCode, body)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Done is open after Close")
	}
	if _, err := net.DialTimeout("tcp", e.APIAddr(), time.Second); err == nil {
		t.Fatal("the API listener still accepts after Close")
	}
	if _, err := e.Node().Put(context.Background(), node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte("v")}); err == nil {
		t.Fatal("the node still takes writes after Close")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestStopsWhenContextEnds: the context given to Start bounds the node's
// life.
func TestStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	e, err := embed.Start(ctx, embed.Config{Node: quiet(node.DefaultLocalConfig()), APIAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-e.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the node still runs after its context ended")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStartClosesGivenListenersOnFailure: Start owns the listeners it is
// given, also when it fails.
func TestStartClosesGivenListenersOnFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  func(api, peer net.Listener) embed.Config
	}{
		{"invalid", func(api, peer net.Listener) embed.Config {
			return embed.Config{Node: quiet(node.Config{Partitions: 3}), APIListener: api}
		}},
		{"node fails to open", func(api, peer net.Listener) embed.Config {
			cfg := embed.Config{Node: quiet(node.DefaultConfig()), APIListener: api, PeerListener: peer}
			cfg.Node.DataDir = t.TempDir()
			cfg.Node.Cluster = &node.ClusterConfig{GossipAddr: "127.0.0.1:0", Join: []string{"127.0.0.1:1"}, FastGossip: true}
			return cfg
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			api, peer := listener(t), listener(t)
			if _, err := embed.Start(t.Context(), c.cfg(api, peer)); err == nil {
				t.Fatal("Start succeeded")
			}
			if _, err := api.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the API listener is open after a failed Start: %v", err)
			}
		})
	}
}
