// Package usage estimates what each namespace stores across the cluster,
// for the namespaces' quotas (max_keys, max_stored_bytes).
//
// Every node counts what its own replica holds ([replica.Usage]: live keys
// and their bytes, kept current by every write and recounted partition by
// partition). A [Tracker] runs that recount in the background — the whole
// store once at start (the figures are not stored), then one partition
// every [RecountEvery] intervals, which heals any drift slowly (the
// per-write deltas keep the figures right; the recount reads the store) —
// and publishes the node's figures of the namespaces that have a quota
// (Config.Quota: only those need a cluster estimate, and the document stays
// small however many namespaces there are) in a gossip document of its own,
// [DocPrefix]+node ID, when they changed, at most once every
// [PublishEvery] intervals. Every node keeps the latest document of every
// other node ([Tracker.OnDoc]).
//
// A namespace's usage across the cluster is then the sum of every ring
// member's figures (this node's live ones, the others' last published)
// divided by the copies each key has, min(n, members): one replica counted
// ([Tracker.Estimate]). It is an estimate, a few seconds behind the
// writes, high while a handoff keeps a partition on two nodes and low
// while replicas have not all received the latest writes — good enough to
// enforce quotas within seconds, not to the byte.
package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/replica"
)

// DocPrefix names the usage documents: DocPrefix + the node's ID.
const DocPrefix = "usage/"

// DefaultInterval is a Tracker's tick.
const DefaultInterval = time.Second

const (
	// RecountEvery is how many ticks apart two partitions are recounted
	// (with 256 partitions and 1 s ticks, the store is read once in about
	// 43 minutes).
	RecountEvery = 10
	// PublishEvery is the fewest ticks between two documents of this node.
	PublishEvery = 3
)

// Local is this node's replica (*replica.Store).
type Local interface {
	Partitions() int
	RecountUsage(p uint16) error
	Usage(ns string) replica.Usage
	UsageAll() map[string]replica.Usage
}

// Config builds a Tracker.
type Config struct {
	Self  string
	Local Local
	// Publish spreads this node's document; nil (or a func that does
	// nothing) on a node without a cluster.
	Publish func(membership.Doc) error
	// Quota reports whether a storage namespace has a quota (max_keys or
	// max_stored_bytes): only those are published. Nil: every namespace.
	Quota func(storageNS string) bool
	// Interval: see DefaultInterval (the default).
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Tracker keeps this node's figures recounted and published, and the
// other nodes' figures as gossip brings them. It is safe for concurrent
// use.
type Tracker struct {
	cfg Config

	mu        sync.RWMutex
	ready     bool                                // the first full count is done
	nodes     map[string]map[string]replica.Usage // node ID → storage namespace → figures, from gossip
	published map[string]replica.Usage            // what this node published last
	version   uint64                              // of this node's document, the highest seen
}

// New returns a Tracker; Run starts its work.
func New(cfg Config) *Tracker {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{cfg: cfg, nodes: map[string]map[string]replica.Usage{}}
}

// Run counts every partition once, then every interval recounts the next
// partition and publishes the figures if they changed, until ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	q := t.cfg.Local.Partitions()
	for p := 0; p < q && ctx.Err() == nil; p++ {
		t.recount(uint16(p))
	}
	if ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	t.ready = true
	t.mu.Unlock()
	t.publish()
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	next, sincePublish := 0, 0
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n%RecountEvery == 0 {
			t.recount(uint16(next))
			next = (next + 1) % q
		}
		if sincePublish++; sincePublish >= PublishEvery && t.publish() {
			sincePublish = 0
		}
	}
}

func (t *Tracker) recount(p uint16) {
	if err := t.cfg.Local.RecountUsage(p); err != nil {
		t.cfg.Logger.Warn("recount namespace usage", "partition", p, "err", err)
	}
}

// Ready reports whether the first full count is done: until then this
// node's own figures are short.
func (t *Tracker) Ready() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ready
}

// publish spreads this node's figures of the namespaces with a quota if
// they changed since it last did, and reports whether it did.
func (t *Tracker) publish() bool {
	if t.cfg.Publish == nil {
		return false
	}
	figures := t.cfg.Local.UsageAll()
	if t.cfg.Quota != nil {
		maps.DeleteFunc(figures, func(ns string, _ replica.Usage) bool { return !t.cfg.Quota(ns) })
	}
	t.mu.Lock()
	if t.published != nil && maps.Equal(figures, t.published) {
		t.mu.Unlock()
		return false
	}
	// The version is the clock's (in ms) so that a restarted node's
	// document supersedes the one it published before, and above any
	// version of it seen (a clock that went back).
	t.version = max(t.version+1, uint64(max(t.cfg.Now().UnixMilli(), 0)))
	version := t.version
	t.mu.Unlock()
	raw, err := encode(figures)
	if err == nil {
		err = t.cfg.Publish(membership.Doc{Name: DocPrefix + t.cfg.Self, Version: version, Data: raw})
	}
	if err != nil {
		t.cfg.Logger.Warn("publish namespace usage", "err", err)
		return false
	}
	t.mu.Lock()
	t.published = figures
	t.mu.Unlock()
	return true
}

// OnDoc takes a usage document from gossip and reports whether d was one.
func (t *Tracker) OnDoc(d membership.Doc) bool {
	id, ok := strings.CutPrefix(d.Name, DocPrefix)
	if !ok {
		return false
	}
	figures, err := decode(d.Data)
	if err != nil {
		t.cfg.Logger.Warn("bad usage document", "doc", d.Name, "err", err)
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nodes[id] = figures
	if id == t.cfg.Self {
		t.version = max(t.version, d.Version)
	}
	return true
}

// Estimate is what storage namespace ns stores across the cluster: the
// sum of the figures of members (this node's own, live, once its first
// count is done; the others' last published) divided by copies, the
// replicas each key has.
func (t *Tracker) Estimate(ns string, members []string, copies int) replica.Usage {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var sum replica.Usage
	for _, id := range members {
		if id == t.cfg.Self && t.ready {
			sum = sum.Add(t.cfg.Local.Usage(ns))
			continue
		}
		sum = sum.Add(t.nodes[id][ns])
	}
	c := int64(max(copies, 1))
	return replica.Usage{Keys: sum.Keys / c, Bytes: sum.Bytes / c}
}

// A document is a JSON object: storage namespace → [keys, bytes].
func encode(figures map[string]replica.Usage) ([]byte, error) {
	out := make(map[string][2]int64, len(figures))
	for ns, u := range figures {
		out[ns] = [2]int64{u.Keys, u.Bytes}
	}
	return json.Marshal(out)
}

func decode(raw []byte) (map[string]replica.Usage, error) {
	var in map[string][2]int64
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("usage: decode: %w", err)
	}
	out := make(map[string]replica.Usage, len(in))
	for ns, v := range in {
		out[ns] = replica.Usage{Keys: v[0], Bytes: v[1]}
	}
	return out, nil
}
