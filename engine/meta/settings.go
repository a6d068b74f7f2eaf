package meta

import (
	"strings"

	"github.com/concord-kv/concord/engine/errs"
)

// ClusterSettings are the cluster admin's settings: caps on what a
// namespace's admin may ask for, and the ceilings of the background rates.
// A zero field means its default ([ClusterSettings.WithDefaults]). The
// cluster holds one version of them, a document spread like a namespace's
// (the highest Version wins; [SettingsStore]).
//
// Lowering a cap changes no namespace: one already above it keeps its
// settings and keeps working, and only a change of the capped setting must
// fit the new cap.
type ClusterSettings struct {
	// MaxNamespaces is the most namespaces the cluster holds (the default
	// namespace counts).
	MaxNamespaces uint32 `json:"max_namespaces,omitempty"`
	// MaxResolverMemoryPages caps a resolver's memory_pages.
	MaxResolverMemoryPages uint32 `json:"max_resolver_memory_pages,omitempty"`
	// MaxResolverDeadlineMs caps a resolver's write and read deadlines.
	MaxResolverDeadlineMs uint32 `json:"max_resolver_deadline_ms,omitempty"`
	// MaxNamespaceOpsPerSecond caps a namespace's reads and writes per
	// second, and is the rate of a namespace that sets none; 0 = uncapped
	// (also its default).
	MaxNamespaceOpsPerSecond uint32 `json:"max_namespace_ops_per_second,omitempty"`
	// ResolverCPUMsPerSecond is the resolver CPU time per second and node
	// of a namespace that sets none, and the cap on what one may set.
	ResolverCPUMsPerSecond uint32 `json:"resolver_cpu_ms_per_second,omitempty"`
	// HandoffObjectsPerSecond, HintsPerSecond and AAEKeysPerSecond are
	// the ceilings of each node's background rates (package pace paces the
	// work below them by foreground latency).
	HandoffObjectsPerSecond uint32 `json:"handoff_objects_per_second,omitempty"`
	HintsPerSecond          uint32 `json:"hints_per_second,omitempty"`
	AAEKeysPerSecond        uint32 `json:"aae_keys_per_second,omitempty"`
	// Version counts the changes across the cluster.
	Version uint64 `json:"version"`
}

// Built-in defaults of the cluster settings.
const (
	DefaultMaxNamespaces           = 1000
	DefaultMaxResolverMemoryPages  = 1024 // 64 MiB
	DefaultMaxResolverDeadlineMs   = 1000
	DefaultResolverCPUMsPerSecond  = 200
	DefaultHandoffObjectsPerSecond = 20000
	DefaultHintsPerSecond          = 10000
	DefaultAAEKeysPerSecond        = 5000
)

// Ceilings of the cluster settings: what the cluster admin may set at most.
const (
	// CeilingNamespaces bounds max_namespaces: every namespace is a
	// document every gossip exchange carries.
	CeilingNamespaces = 10_000
	// CeilingMemoryPages bounds max_resolver_memory_pages (1 GiB).
	CeilingMemoryPages = 16384
	// CeilingResolverCPUMsPerSecond bounds resolver_cpu_ms_per_second
	// (100 cores' worth).
	CeilingResolverCPUMsPerSecond = 100_000
	// CeilingBackgroundRate bounds the background rates.
	CeilingBackgroundRate = 1_000_000
)

// DefaultClusterSettings are the built-in defaults (Version 0).
func DefaultClusterSettings() ClusterSettings {
	return ClusterSettings{
		MaxNamespaces:           DefaultMaxNamespaces,
		MaxResolverMemoryPages:  DefaultMaxResolverMemoryPages,
		MaxResolverDeadlineMs:   DefaultMaxResolverDeadlineMs,
		ResolverCPUMsPerSecond:  DefaultResolverCPUMsPerSecond,
		HandoffObjectsPerSecond: DefaultHandoffObjectsPerSecond,
		HintsPerSecond:          DefaultHintsPerSecond,
		AAEKeysPerSecond:        DefaultAAEKeysPerSecond,
	}
}

// settingFields are the settings by their API names (the update_mask
// names), in the order messages list them, with each one's ceiling.
var settingFields = []struct {
	name    string
	field   func(*ClusterSettings) *uint32
	ceiling uint32
}{
	{"max_namespaces", func(s *ClusterSettings) *uint32 { return &s.MaxNamespaces }, CeilingNamespaces},
	{"max_resolver_memory_pages", func(s *ClusterSettings) *uint32 { return &s.MaxResolverMemoryPages }, CeilingMemoryPages},
	{"max_resolver_deadline_ms", func(s *ClusterSettings) *uint32 { return &s.MaxResolverDeadlineMs }, uint32(MaxResolverDeadline.Milliseconds())},
	{"max_namespace_ops_per_second", func(s *ClusterSettings) *uint32 { return &s.MaxNamespaceOpsPerSecond }, CeilingRate},
	{"resolver_cpu_ms_per_second", func(s *ClusterSettings) *uint32 { return &s.ResolverCPUMsPerSecond }, CeilingResolverCPUMsPerSecond},
	{"handoff_objects_per_second", func(s *ClusterSettings) *uint32 { return &s.HandoffObjectsPerSecond }, CeilingBackgroundRate},
	{"hints_per_second", func(s *ClusterSettings) *uint32 { return &s.HintsPerSecond }, CeilingBackgroundRate},
	{"aae_keys_per_second", func(s *ClusterSettings) *uint32 { return &s.AAEKeysPerSecond }, CeilingBackgroundRate},
}

// SettingNames lists the cluster settings by their API names.
func SettingNames() []string {
	out := make([]string, len(settingFields))
	for i, f := range settingFields {
		out[i] = f.name
	}
	return out
}

// WithDefaults returns s with every zero field taken from d (usually
// [DefaultClusterSettings]; a node passes its own configured background
// rates).
func (s ClusterSettings) WithDefaults(d ClusterSettings) ClusterSettings {
	for _, f := range settingFields {
		if v := f.field(&s); *v == 0 {
			*v = *f.field(&d)
		}
	}
	return s
}

// Validate checks every field against its ceiling (zero, the default, is
// always valid).
func (s ClusterSettings) Validate() error {
	for _, f := range settingFields {
		if v := *f.field(&s); v > f.ceiling {
			return errs.Invalid(f.name, "%s is %d; it must be at most %d (0 = the default)", f.name, v, f.ceiling)
		}
	}
	return nil
}

// Merge returns s with the settings named in fields taken from in; a
// setting named there and zero in in goes back to its default. An empty
// or unknown name is an errs.InvalidError that lists the names allowed.
// The version is s's.
func (s ClusterSettings) Merge(in ClusterSettings, fields []string) (ClusterSettings, error) {
	if len(fields) == 0 {
		return ClusterSettings{}, errs.Invalid("update_mask", "update_mask is empty; name the settings to change, of: %s", strings.Join(SettingNames(), ", "))
	}
	next := s
	for _, name := range fields {
		i := settingIndex(name)
		if i < 0 {
			return ClusterSettings{}, errs.Invalid("update_mask", "%q is not a cluster setting; settings: %s", name, strings.Join(SettingNames(), ", "))
		}
		*settingFields[i].field(&next) = *settingFields[i].field(&in)
	}
	return next, nil
}

func settingIndex(name string) int {
	for i, f := range settingFields {
		if f.name == name {
			return i
		}
	}
	return -1
}
