package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/concord-kv/concord/internal/bench"
)

// A peer is one system under test. start brings up a fresh, empty
// instance of it; every round starts its own, so no round inherits another's
// data, caches or compactions.
type peer struct {
	name string
	// about says what is measured, for the report.
	about string
	// packages are the Debian packages its servers come from, installed
	// when missing.
	packages []debPackage
	start    func(ctx context.Context, env *env) (instance, error)
}

// instance is a running peer.
type instance interface {
	// clients opens n clients, one per load-generating goroutine, and
	// returns a function that closes them.
	clients(ctx context.Context, n int) ([]bench.Store, func(), error)
	// pids are the server processes whose CPU counts as the peer's; none
	// for a peer inside this process.
	pids() []int
	// versions names the servers' versions, for the report.
	versions() map[string]string
	close() error
}

// env is what every peer's start may use.
type env struct {
	dir       string // a fresh directory for this instance's data and logs
	concord   string // path of the concord binary
	baseline  string // path of the baseline concord binary, if any
	self      string // path of this program (it serves the bare handler)
	valueSize int
	updates   string // how the SDK's clients write updates (bench.UpdateOverwrite or bench.UpdateContext)
	log       *slog.Logger
}

// peers are the peers in the order a round runs them. baseline runs right
// before concord (right after it in reversed rounds), so that the two builds
// see the machine in nearly the same state and each goes first as often.
var peers = []peer{pebblePeer, barePeer, redisPeer, etcdPeer, baselinePeer, concordPeer, concordLWWPeer}

// peerNames are the names of peers, in order.
func peerNames() []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.name
	}
	return out
}

// defaultPeers are the peers run when --peers is not given: all but
// baseline, which --baseline adds, and concord-lww, a variant of concord
// asked for by name.
func defaultPeers() []string {
	return slices.DeleteFunc(peerNames(), func(n string) bool { return n == baselinePeer.name || n == concordLWWPeer.name })
}

// selectPeers returns the named peers (in any order) in round order, and
// baseline too when withBaseline (--baseline was given), whether named or
// not. baseline is only compared with concord, so it needs concord
// selected.
func selectPeers(names []string, withBaseline bool) ([]peer, error) {
	for _, n := range names {
		if !slices.Contains(peerNames(), n) {
			return nil, fmt.Errorf("--peers: unknown peer %q: use %s", n, strings.Join(peerNames(), ", "))
		}
	}
	if withBaseline {
		names = append(slices.Clone(names), baselinePeer.name)
	}
	var out []peer
	for _, p := range peers {
		if slices.Contains(names, p.name) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--peers: name at least one of %s", strings.Join(defaultPeers(), ", "))
	}
	if slices.Contains(names, baselinePeer.name) && !slices.Contains(names, reference) {
		return nil, fmt.Errorf("--peers: %s is compared with %s: add %s", baselinePeer.name, reference, reference)
	}
	return out, nil
}

// reference is the peer the others are compared with.
const reference = "concord"
