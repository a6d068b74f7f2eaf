package cli

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
)

// TestServeWALSyncInterval: --wal-sync-interval defaults to 1ms, a value
// reaches the node as is, and 0 turns the wait off (the node's zero would
// mean its default).
func TestServeWALSyncInterval(t *testing.T) {
	t.Parallel()
	if def := newServeCmd().Flags().Lookup("wal-sync-interval").DefValue; def != "1ms" {
		t.Errorf("--wal-sync-interval defaults to %s, want 1ms", def)
	}
	log := slog.New(slog.DiscardHandler)
	for flag, want := range map[time.Duration]time.Duration{5 * time.Millisecond: 5 * time.Millisecond, 0: -1} {
		f := serveFlags{walSync: flag, partitions: 256, replicas: 3}
		if got := f.config(log).Node.WALSyncInterval; got != want {
			t.Errorf("--wal-sync-interval %v: the node's WALSyncInterval is %v, want %v", flag, got, want)
		}
	}
}

// TestServePeerStreams: peer streams are on unless --peer-streams=false.
func TestServePeerStreams(t *testing.T) {
	t.Parallel()
	if def := newServeCmd().Flags().Lookup("peer-streams").DefValue; def != "true" {
		t.Errorf("--peer-streams defaults to %s, want true", def)
	}
	log := slog.New(slog.DiscardHandler)
	for _, on := range []bool{true, false} {
		f := serveFlags{peerStreams: on, partitions: 256, replicas: 3}
		if got := f.config(log).Node.Cluster.NoPeerStreams; got != !on {
			t.Errorf("--peer-streams=%v: the node's NoPeerStreams is %v", on, got)
		}
	}
}

// TestServeObjectCache: --object-cache-bytes defaults to the node's
// default, a value reaches the node as is, and 0 turns the cache off.
func TestServeObjectCache(t *testing.T) {
	t.Parallel()
	if def := newServeCmd().Flags().Lookup("object-cache-bytes").DefValue; def != fmt.Sprint(node.DefaultObjectCacheBytes) {
		t.Errorf("--object-cache-bytes defaults to %s, want %d", def, node.DefaultObjectCacheBytes)
	}
	log := slog.New(slog.DiscardHandler)
	for flag, want := range map[int]int{1 << 20: 1 << 20, 0: -1} {
		f := serveFlags{objectCache: flag, partitions: 256, replicas: 3}
		if got := f.config(log).Node.ObjectCacheBytes; got != want {
			t.Errorf("--object-cache-bytes %d: the node's ObjectCacheBytes is %d, want %d", flag, got, want)
		}
	}
}
