package node_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
)

func TestClusterConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cc   node.ClusterConfig
		want string // "" when valid
	}{
		{"zero takes the defaults", node.ClusterConfig{}, ""},
		{"set", node.ClusterConfig{GossipAddr: "127.0.0.1:7946", Join: []string{"10.0.0.1:7946"}, TargetN: 5, HintInterval: time.Second, TombstoneGrace: time.Minute, JoinTimeout: time.Minute}, ""},
		{"negative target n", node.ClusterConfig{TargetN: -1}, "TargetN is -1"},
		{"negative hint interval", node.ClusterConfig{HintInterval: -time.Second}, "HintInterval is -1s"},
		{"negative handoff interval", node.ClusterConfig{HandoffInterval: -1}, "HandoffInterval is -1ns"},
		{"negative aae interval", node.ClusterConfig{AAEInterval: -time.Millisecond}, "AAEInterval is -1ms"},
		{"negative aae rate", node.ClusterConfig{AAEKeysPerSecond: -5}, "AAEKeysPerSecond is -5"},
		{"negative purge interval", node.ClusterConfig{PurgeInterval: -time.Minute}, "PurgeInterval is -1m0s"},
		{"negative tombstone grace", node.ClusterConfig{TombstoneGrace: -time.Hour}, "TombstoneGrace is -1h0m0s"},
		{"negative join timeout", node.ClusterConfig{JoinTimeout: -time.Second}, "JoinTimeout is -1s"},
		{"grace shorter than hint delivery is only a risk", node.ClusterConfig{HintInterval: time.Hour, TombstoneGrace: time.Second}, ""},
		{"gossip address without a port", node.ClusterConfig{GossipAddr: "localhost"}, "not host:port"},
		{"empty seed", node.ClusterConfig{Join: []string{"10.0.0.1:7946", ""}}, "Join[1] is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.cc.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, c.want)
			}
			cfg := quiet(node.DefaultLocalConfig())
			cfg.Cluster = &c.cc
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Config.Validate() = %v, want the cluster's error", err)
			}
			if _, err := node.Open(cfg); err == nil {
				t.Error("Open accepted the configuration")
			}
		})
	}
}

func TestConfigValidateFS(t *testing.T) {
	t.Parallel()
	cfg := quiet(node.DefaultLocalConfig())
	cfg.FS = pebbletest.NewDisk().FS()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "DataDir is empty") {
		t.Errorf("Validate() with an FS and no DataDir = %v", err)
	}
	cfg.DataDir = pebbletest.Dir
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

// TestOpenKeepsTheCallersClusterConfig: the defaults go to Open's copy.
func TestOpenKeepsTheCallersClusterConfig(t *testing.T) {
	t.Parallel()
	cfg := quiet(node.DefaultLocalConfig())
	cc := node.ClusterConfig{GossipAddr: "127.0.0.1:0", FastGossip: true}
	cfg.Cluster = &cc
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if cc.HintInterval != 0 || cc.TombstoneGrace != 0 || cc.JoinTimeout != 0 || cc.TargetN != 0 {
		t.Errorf("Open changed the caller's cluster configuration: %+v", cc)
	}
}

// TestOpenWarnsOfAShortTombstoneGrace: a tombstone purged before a hint for
// its key is delivered lets the hint bring the value back; Open accepts
// the setting (tests use it) and logs the risk.
func TestOpenWarnsOfAShortTombstoneGrace(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cc   node.ClusterConfig
		warn bool
	}{
		{"defaults", node.ClusterConfig{}, false},
		{"grace shorter than hint delivery", node.ClusterConfig{HintInterval: time.Hour, TombstoneGrace: time.Second}, true},
		{"grace equal to the hint interval", node.ClusterConfig{TombstoneGrace: node.DefaultHintInterval}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			cfg := node.DefaultLocalConfig()
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			c.cc.GossipAddr, c.cc.FastGossip = "127.0.0.1:0", true
			cfg.Cluster = &c.cc
			n, err := node.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "TombstoneGrace"); got != c.warn {
				t.Errorf("warned %v, want %v; the log:\n%s", got, c.warn, logs.String())
			}
		})
	}
}

// TestJoinTimeout: a seed that accepts connections and never answers holds
// the join for memberlist's TCP timeout (1s with FastGossip); JoinTimeout
// ends the wait first, and Open says so.
func TestJoinTimeout(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	cfg := quiet(node.DefaultLocalConfig())
	cfg.Cluster = &node.ClusterConfig{
		GossipAddr: "127.0.0.1:0", FastGossip: true,
		Join: []string{silent.Addr().String()}, JoinTimeout: 50 * time.Millisecond,
	}
	n, err := node.Open(cfg)
	if err == nil {
		n.Close()
		t.Fatal("Open joined a seed that never answers")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open: %v, want the join timeout (context.DeadlineExceeded)", err)
	}
}
