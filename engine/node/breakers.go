package node

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/concord-kv/concord/engine/membership"
)

// Resolver breakers shared by the cluster. A namespace's resolver runs on
// every node, and each node's pool has its own breaker: a module that
// loops would cost each node a call to its deadline before that node's
// breaker opened, and after each cool-down each node would probe it
// again. So a node whose breaker opens on its own calls tells the others
// in a gossiped document ("breakers/<node>": the namespace, the module's
// hash and the time the opening ends), and they open theirs for the same
// module until breakerGrace after that — unless their own opening ends
// first (resolvers.Breaker.OpenUntil). So the node whose opening ends
// first probes, alone, and if its probe fails its breaker re-opens for
// twice as long and it tells the others again before their openings end.
// A module that fails everywhere then costs one deadline per cool-down in
// the cluster, not one per node (the first, before gossip has spread,
// may cost one on each node that called it). Openings are wall-clock times, as the
// documents carry them; a node whose clock is far ahead opens the others'
// breakers for at most their maximum cool-down (resolvers.Breaker).

// docBreakersPrefix names the breakers documents, one per node.
const docBreakersPrefix = "breakers/"

// breakerGrace is how much longer a node keeps a breaker open than the
// node whose breaker opened, so that that node probes first.
const breakerGrace = 5 * time.Second

// breakerOpening is one open breaker in a breakers document.
type breakerOpening struct {
	Namespace string `json:"namespace"`
	Module    string `json:"module"`   // hex SHA-256
	UntilMs   int64  `json:"until_ms"` // Unix milliseconds
}

// sharedBreakers are this node's own breaker openings, as it last
// published them.
type sharedBreakers struct {
	mu      sync.Mutex
	open    map[string]breakerOpening // by namespace
	version uint64
}

// breakerOpened publishes an opening of namespace ns's breaker on this
// node's own calls (registry.Config.BreakerOpened): this node's breakers
// document, with every opening of its own not yet over.
func (n *Node) breakerOpened(ns, hash string, until time.Time) {
	b := &n.breakers
	now := n.cfg.Now()
	b.mu.Lock()
	if b.open == nil {
		b.open = map[string]breakerOpening{}
	}
	b.open[ns] = breakerOpening{Namespace: ns, Module: hash, UntilMs: until.UnixMilli()}
	var list []breakerOpening
	for name, o := range b.open {
		if o.UntilMs <= now.UnixMilli() {
			delete(b.open, name)
			continue
		}
		list = append(list, o)
	}
	// Versions from the clock, so that a restarted node's documents still
	// supersede the ones it published before.
	b.version = max(b.version+1, uint64(now.UnixNano()))
	version := b.version
	b.mu.Unlock()
	raw, err := json.Marshal(list)
	if err != nil {
		n.log.Error("encode breakers document", "err", err)
		return
	}
	n.publishDoc(membership.Doc{Name: docBreakersPrefix + n.id, Version: version, Data: raw})
}

// onBreakersDoc takes another node's breakers document: the breakers of
// the modules it names open here too, until breakerGrace after its
// openings end. It reports whether d was a breakers document.
func (n *Node) onBreakersDoc(d membership.Doc) bool {
	if !strings.HasPrefix(d.Name, docBreakersPrefix) {
		return false
	}
	if d.Name == docBreakersPrefix+n.id {
		return true
	}
	var list []breakerOpening
	if err := json.Unmarshal(d.Data, &list); err != nil {
		n.log.Warn("bad breakers document", "doc", d.Name, "err", err)
		return true
	}
	now := n.cfg.Now()
	for _, o := range list {
		if ends := time.UnixMilli(o.UntilMs); ends.Add(breakerGrace).After(now) {
			n.registry.OpenBreaker(o.Namespace, o.Module, ends, breakerGrace)
		}
	}
	return true
}
