package node

import (
	"sync"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/pace"
)

// Cluster settings ([meta.ClusterSettings]): the cluster admin's caps on
// namespaces and the ceilings of the background rates, one document spread
// by gossip like the namespaces and kept in every node's store. Every node
// applies a new version as it takes it: the caps are read by the calls
// that check them, the KV front reads max_namespace_ops_per_second on
// every request ([frontNamespaces]), and the background limiters get
// their new maximum rates ([pace.Limiter.SetMax]) at once, so a change
// reaches every node within a gossip interval.
//
// A background rate the settings leave zero is the node's own
// ([ClusterConfig], whose defaults are the built-in ones).

const docSettings = "cluster/settings"

// backgroundRates are the pace limiters whose maximum rates the cluster
// settings set. mu orders their changes: the last settings stored are the
// last applied.
type backgroundRates struct {
	mu                  sync.Mutex
	handoff, hints, aae *pace.Limiter // nil until the cluster starts
}

// ClusterSettings returns the cluster settings in force on this node,
// defaults filled in.
func (n *Node) ClusterSettings() meta.ClusterSettings {
	return n.settings.Get().WithDefaults(n.settingDefaults())
}

// UpdateClusterSettings changes the settings named in fields (of
// [meta.SettingNames]) to their values in in, a named zero going back to
// its default, and returns the settings in force. Every node applies them
// within a gossip interval. No namespace changes: one above a lowered cap
// keeps its settings.
func (n *Node) UpdateClusterSettings(in meta.ClusterSettings, fields []string) (meta.ClusterSettings, error) {
	next, err := n.settings.Update(func(cur meta.ClusterSettings) (meta.ClusterSettings, error) {
		return cur.Merge(in, fields)
	})
	if err != nil {
		return meta.ClusterSettings{}, err
	}
	return next.WithDefaults(n.settingDefaults()), nil
}

// settingDefaults are the defaults of the settings left zero: the
// built-in ones, and this node's configured background rates.
func (n *Node) settingDefaults() meta.ClusterSettings {
	d := meta.DefaultClusterSettings()
	if cc := n.cfg.Cluster; cc != nil {
		rate := func(v int) uint32 { return uint32(min(max(v, 1), meta.CeilingBackgroundRate)) }
		d.HandoffObjectsPerSecond, d.HintsPerSecond, d.AAEKeysPerSecond = rate(cc.HandoffObjectsPerSecond), rate(cc.HintsPerSecond), rate(cc.AAEKeysPerSecond)
	}
	return d
}

// startRates makes the background limiters at the rates in force. The
// cluster's services take them; settings that arrive later change them.
func (n *Node) startRates() {
	n.rates.mu.Lock()
	defer n.rates.mu.Unlock()
	s := n.ClusterSettings()
	n.rates.handoff = n.pace.Limiter("handoff", float64(s.HandoffObjectsPerSecond))
	n.rates.hints = n.pace.Limiter("hints", float64(s.HintsPerSecond))
	n.rates.aae = n.pace.Limiter("aae", float64(s.AAEKeysPerSecond))
}

// handoffLimiter is the limiter of the objects this node fetches or sends
// in handoffs (nil, unpaced, before the cluster starts).
func (n *Node) handoffLimiter() *pace.Limiter {
	n.rates.mu.Lock()
	defer n.rates.mu.Unlock()
	return n.rates.handoff
}

// settingsChanged applies the settings now stored to the background
// limiters.
func (n *Node) settingsChanged() {
	n.rates.mu.Lock()
	defer n.rates.mu.Unlock()
	if n.rates.handoff == nil {
		return // not started: startRates reads the settings
	}
	s := n.ClusterSettings()
	n.rates.handoff.SetMax(float64(s.HandoffObjectsPerSecond))
	n.rates.hints.SetMax(float64(s.HintsPerSecond))
	n.rates.aae.SetMax(float64(s.AAEKeysPerSecond))
}

// publishSettings applies settings changed here and spreads them.
func (n *Node) publishSettings(cs meta.ClusterSettings) {
	n.settingsChanged()
	n.log.Info("cluster settings changed", "version", cs.Version)
	raw, err := meta.EncodeSettings(cs)
	if err == nil {
		n.publishDoc(membership.Doc{Name: docSettings, Version: cs.Version, Data: raw})
	}
}

// settingsDocs is the settings document this node holds, for gossip (none
// before the settings were first changed).
func (n *Node) settingsDocs() []membership.Doc {
	cs := n.settings.Get()
	if cs.Version == 0 {
		return nil
	}
	raw, err := meta.EncodeSettings(cs)
	if err != nil {
		return nil
	}
	return []membership.Doc{{Name: docSettings, Version: cs.Version, Data: raw}}
}

// onSettingsDoc takes a settings document from gossip and reports whether
// d was one.
func (n *Node) onSettingsDoc(d membership.Doc) bool {
	if d.Name != docSettings {
		return false
	}
	cs, err := meta.DecodeSettings(d.Data)
	if err != nil {
		n.log.Error("bad cluster settings document", "err", err)
		return true
	}
	changed, err := n.settings.Apply(cs)
	if err != nil {
		n.log.Error("store cluster settings", "err", err)
	}
	if changed {
		n.log.Info("cluster settings changed", "version", cs.Version)
		n.settingsChanged()
	}
	return true
}

// frontNamespaces is the namespace metadata as the KV front sees it: a
// namespace that sets no reads or writes per second runs at the cluster's
// max_namespace_ops_per_second (read on every request, so a new cap
// applies at once).
type frontNamespaces struct {
	*meta.Store
	settings *meta.SettingsStore
}

func (f frontNamespaces) Get(name string) (meta.Namespace, error) {
	ns, err := f.Store.Get(name)
	if c := f.settings.Get().MaxNamespaceOpsPerSecond; err == nil && c > 0 {
		if ns.Limits.ReadsPerSecond == 0 {
			ns.Limits.ReadsPerSecond = c
		}
		if ns.Limits.WritesPerSecond == 0 {
			ns.Limits.WritesPerSecond = c
		}
	}
	return ns, err
}

// checkNamespaceCount refuses a namespace past the cluster's
// max_namespaces. The caller holds n.createMu. Concurrent creates on
// different nodes are each checked against the namespaces their node
// knows, so together they may pass the cap by a few.
func (n *Node) checkNamespaceCount(name string) error {
	if _, err := n.meta.Get(name); err == nil {
		return nil // the create answers that it exists
	}
	have, most := len(n.meta.List()), n.ClusterSettings().MaxNamespaces
	if have < int(most) {
		return nil
	}
	return &errs.LimitError{Limit: "max_namespaces", Max: uint64(most), Actual: uint64(have), Exhausted: true,
		Hint: "delete a namespace first, or raise the cap (concord cluster settings set --max-namespaces N)"}
}

// checkRateCaps refuses a namespace's reads or writes per second above
// the cluster's max_namespace_ops_per_second. A rate unchanged from cur
// (the namespace before an update; zero for a create) is not checked: a
// namespace above a lowered cap keeps its rate until it changes it.
func (n *Node) checkRateCaps(next, cur meta.Namespace) error {
	c := n.settings.Get().MaxNamespaceOpsPerSecond
	if c == 0 {
		return nil
	}
	for _, r := range []struct {
		field     string
		rate, was uint32
	}{
		{"limits.reads_per_second", next.Limits.ReadsPerSecond, cur.Limits.ReadsPerSecond},
		{"limits.writes_per_second", next.Limits.WritesPerSecond, cur.Limits.WritesPerSecond},
	} {
		if r.rate > c && r.rate != r.was {
			return &errs.LimitError{Limit: "max_namespace_ops_per_second", Max: uint64(c), Actual: uint64(r.rate),
				Hint: r.field + " must be at most the cluster's cap (0 runs the namespace at the cap)"}
		}
	}
	return nil
}

// BackgroundCeilings returns the maximum rate of each kind of background
// work ("handoff", "hints", "aae") as its limiter has it now: the pacer
// keeps the rate at or below it ([Node.Background]). A node without a
// cluster has none.
func (n *Node) BackgroundCeilings() map[string]float64 {
	n.rates.mu.Lock()
	defer n.rates.mu.Unlock()
	if n.rates.handoff == nil {
		return nil
	}
	return map[string]float64{"handoff": n.rates.handoff.Max(), "hints": n.rates.hints.Max(), "aae": n.rates.aae.Max()}
}
