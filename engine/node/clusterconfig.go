package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/concord-kv/concord/engine/peer"
)

// ClusterConfig makes a node one member of a cluster. The caller owns the
// peer listener (it serves peer.NewHandler(node)) and tells the node where
// it is reachable.
type ClusterConfig struct {
	// PeerAddr is where other nodes reach this node's peer service (host:port).
	PeerAddr string
	// APIAddr is the client API address this node advertises.
	APIAddr string
	// GossipAddr is the host:port memberlist binds; port 0 picks one.
	GossipAddr string
	// Join lists gossip addresses of existing members. Empty: this node
	// starts a new cluster and owns every partition.
	Join []string
	// Zone is the failure domain (rack, availability zone).
	Zone string
	// AdvertiseHost is the host other nodes dial for gossip when it is not
	// the bound one (a node listening on all interfaces).
	AdvertiseHost string
	// TargetN is the replica count the claim keeps on distinct nodes (and
	// zones). Default 3.
	TargetN int
	// HintInterval is how often hints are offered to their owners. Default 1s.
	HintInterval time.Duration
	// HandoffInterval is how often the node checks for partitions to fetch
	// after a ring change. Default 500ms.
	HandoffInterval time.Duration
	// AAEInterval is the pause between two anti-entropy exchanges (one
	// partition each). Default 100ms: every partition every Q/10 seconds.
	AAEInterval time.Duration
	// AAEKeysPerSecond caps the keys anti-entropy repairs per second.
	// Default 5000. Like the two caps below, it is the rate at full pace:
	// while client requests are much slower than usual, background work
	// gets a share of it (package pace). The three are this node's
	// defaults: the cluster settings' aae_keys_per_second,
	// handoff_objects_per_second and hints_per_second, once set, replace
	// them on every node (Node.UpdateClusterSettings).
	AAEKeysPerSecond int
	// HandoffObjectsPerSecond caps the objects a node fetches per second
	// in partition handoffs, and those it sends. Default 20000.
	HandoffObjectsPerSecond int
	// HintsPerSecond caps the hints a node delivers per second. Default
	// 10000.
	HintsPerSecond int
	// PurgeInterval is how often old tombstones are checked for purging.
	// Default 30s.
	PurgeInterval time.Duration
	// TombstoneGrace is how long a tombstone is kept at least, even when
	// every replica holds it. It must outlast hint delivery: Open warns
	// when it is not longer than HintInterval. Default 1h.
	TombstoneGrace time.Duration
	// JoinTimeout bounds how long Open waits for a seed to answer when
	// the node joins a cluster. Default 30s.
	JoinTimeout time.Duration
	// FastGossip uses memberlist's local-network timings (tests, dev).
	FastGossip bool
	// GossipTransport replaces memberlist's network transport (tests).
	GossipTransport memberlist.Transport
	// PeerHTTP is the HTTP client for peer calls; default an HTTP/1.1
	// client in clear text.
	PeerHTTP peer.HTTPClient
	// NoPeerStreams makes every peer call a Connect request: no peer
	// streams (engine/peer's stream.go) for the hot calls.
	NoPeerStreams bool
	// GossipKeys encrypt gossip (each 16, 24 or 32 bytes): the first
	// encrypts, every one decrypts (a key rotation holds two). Empty:
	// gossip in the clear.
	GossipKeys [][]byte
	// VerifyMember, if set, must accept a gossip member (its ID and
	// advertised peer address) before a join of it is staged. internal/embed
	// sets it under peer mTLS: the member's peer port must present a
	// certificate of the cluster CA that names it.
	VerifyMember func(ctx context.Context, id, peerAddr string) error
}

func splitHostPort(addr string) (string, int, error) {
	if addr == "" {
		return "127.0.0.1", 0, nil
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("node: gossip address %q is not host:port", addr)
	}
	var port int
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("node: gossip address %q has a bad port", addr)
	}
	return strings.Trim(addr[:i], "[]"), port, nil
}
