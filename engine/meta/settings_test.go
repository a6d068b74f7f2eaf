package meta_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func TestClusterSettingsDefaults(t *testing.T) {
	t.Parallel()
	got := meta.ClusterSettings{MaxNamespaces: 7, Version: 3}.WithDefaults(meta.DefaultClusterSettings())
	want := meta.ClusterSettings{
		MaxNamespaces: 7, MaxResolverMemoryPages: 1024, MaxResolverDeadlineMs: 1000,
		MaxNamespaceOpsPerSecond: 0, // uncapped is its default
		ResolverCPUMsPerSecond:   200, HandoffObjectsPerSecond: 20000, HintsPerSecond: 10000, AAEKeysPerSecond: 5000,
		Version: 3,
	}
	if got != want {
		t.Errorf("WithDefaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestClusterSettingsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		s     meta.ClusterSettings
		field string // "" = valid
	}{
		{"zero: every default", meta.ClusterSettings{}, ""},
		{"the built-in defaults", meta.DefaultClusterSettings(), ""},
		{"memory pages at the ceiling", meta.ClusterSettings{MaxResolverMemoryPages: 16384}, ""},
		{"memory pages over the ceiling", meta.ClusterSettings{MaxResolverMemoryPages: 16385}, "max_resolver_memory_pages"},
		{"deadline at 10s", meta.ClusterSettings{MaxResolverDeadlineMs: 10_000}, ""},
		{"deadline over 10s", meta.ClusterSettings{MaxResolverDeadlineMs: 10_001}, "max_resolver_deadline_ms"},
		{"too many namespaces", meta.ClusterSettings{MaxNamespaces: meta.CeilingNamespaces + 1}, "max_namespaces"},
		{"ops over the rate ceiling", meta.ClusterSettings{MaxNamespaceOpsPerSecond: meta.CeilingRate + 1}, "max_namespace_ops_per_second"},
		{"resolver cpu", meta.ClusterSettings{ResolverCPUMsPerSecond: meta.CeilingResolverCPUMsPerSecond + 1}, "resolver_cpu_ms_per_second"},
		{"handoff rate", meta.ClusterSettings{HandoffObjectsPerSecond: meta.CeilingBackgroundRate + 1}, "handoff_objects_per_second"},
		{"hints rate", meta.ClusterSettings{HintsPerSecond: meta.CeilingBackgroundRate + 1}, "hints_per_second"},
		{"aae rate", meta.ClusterSettings{AAEKeysPerSecond: meta.CeilingBackgroundRate + 1}, "aae_keys_per_second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var inv *errs.InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.field {
				t.Fatalf("Validate() = %v, want an InvalidError of %s", err, tc.field)
			}
		})
	}
}

func TestClusterSettingsMerge(t *testing.T) {
	t.Parallel()
	cur := meta.ClusterSettings{MaxNamespaces: 10, HintsPerSecond: 99, Version: 4}
	in := meta.ClusterSettings{MaxNamespaces: 20, HintsPerSecond: 0, AAEKeysPerSecond: 7}
	got, err := cur.Merge(in, []string{"max_namespaces", "hints_per_second"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the named fields change; a named zero goes back to its default
	// (zero), one not named (aae_keys_per_second) stays.
	if want := (meta.ClusterSettings{MaxNamespaces: 20, Version: 4}); got != want {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	for _, mask := range [][]string{nil, {"max_namespaces", "nope"}, {"settings.max_namespaces"}} {
		_, err := cur.Merge(in, mask)
		var inv *errs.InvalidError
		if !errors.As(err, &inv) || inv.Field != "update_mask" {
			t.Fatalf("Merge(mask %q) = %v, want an InvalidError of update_mask", mask, err)
		}
		for _, name := range meta.SettingNames() {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Merge(mask %q): %q does not list %s", mask, err, name)
			}
		}
	}
}

func TestSettingsStoreVersionsPersistAndApply(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	s, err := meta.OpenSettings(eng)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get(); got != (meta.ClusterSettings{}) {
		t.Fatalf("fresh store: %+v, want the zero settings", got)
	}
	var published []meta.ClusterSettings
	s.OnChange(func(cs meta.ClusterSettings) { published = append(published, cs) })
	set := func(cs meta.ClusterSettings, fields ...string) (meta.ClusterSettings, error) {
		return s.Update(func(cur meta.ClusterSettings) (meta.ClusterSettings, error) { return cur.Merge(cs, fields) })
	}
	if _, err := set(meta.ClusterSettings{MaxNamespaces: 5}, "max_namespaces"); err != nil {
		t.Fatal(err)
	}
	// An invalid change is refused and changes nothing.
	if _, err := set(meta.ClusterSettings{MaxResolverMemoryPages: 1 << 20}, "max_resolver_memory_pages"); err == nil {
		t.Fatal("an invalid change was stored")
	}
	if got := s.Get(); got != (meta.ClusterSettings{MaxNamespaces: 5, Version: 1}) || len(published) != 1 || published[0] != got {
		t.Fatalf("after one change: %+v, published %+v", got, published)
	}

	// Gossip: an older version is ignored, a newer one (or the same
	// version that won gossip's tie-break) is taken.
	for _, tc := range []struct {
		in      meta.ClusterSettings
		changed bool
	}{
		{meta.ClusterSettings{MaxNamespaces: 9, Version: 0}, false},
		{meta.ClusterSettings{MaxNamespaces: 5, Version: 1}, false},
		{meta.ClusterSettings{MaxNamespaces: 6, Version: 1}, true},
		{meta.ClusterSettings{HintsPerSecond: 3, Version: 3}, true},
		{meta.ClusterSettings{MaxNamespaces: 8, Version: 2}, false},
	} {
		changed, err := s.Apply(tc.in)
		if err != nil || changed != tc.changed {
			t.Fatalf("Apply(%+v) = %v, %v; want changed %v", tc.in, changed, err, tc.changed)
		}
	}
	if len(published) != 1 {
		t.Errorf("settings from gossip were published again: %+v", published)
	}

	reopened, err := meta.OpenSettings(eng)
	if err != nil {
		t.Fatal(err)
	}
	if got := reopened.Get(); got != (meta.ClusterSettings{HintsPerSecond: 3, Version: 3}) {
		t.Errorf("after a reopen: %+v", got)
	}
}

// TestResolverLimitsFollowTheCaps: a resolver's memory and deadlines are
// checked against the cluster's caps (an errs.LimitError naming the cap),
// and defaults never exceed a lowered cap.
func TestResolverLimitsFollowTheCaps(t *testing.T) {
	t.Parallel()
	caps := meta.ClusterSettings{MaxResolverMemoryPages: 128, MaxResolverDeadlineMs: 30}.WithDefaults(meta.DefaultClusterSettings())
	r := meta.Resolver{}.WithCappedDefaults(caps)
	if r.MemoryPages != 128 || r.WriteDeadline != 20*time.Millisecond || r.ReadDeadline != 30*time.Millisecond {
		t.Errorf("defaults under caps of 128 pages and 30ms: %+v", r)
	}
	if err := r.Validate(caps); err != nil {
		t.Errorf("capped defaults: %v", err)
	}
	for _, tc := range []struct {
		r     meta.Resolver
		limit string
	}{
		{meta.Resolver{MemoryPages: 129}, "max_resolver_memory_pages"},
		{meta.Resolver{ReadDeadline: 31 * time.Millisecond}, "max_resolver_deadline_ms"},
		{meta.Resolver{WriteDeadline: time.Second}, "max_resolver_deadline_ms"},
	} {
		err := tc.r.WithCappedDefaults(caps).Validate(caps)
		var lim *errs.LimitError
		if !errors.As(err, &lim) || lim.Limit != tc.limit || lim.Exhausted {
			t.Errorf("Validate(%+v) = %v, want a LimitError of %s", tc.r, err, tc.limit)
		}
	}
	// Raised to the ceiling, the cap admits what the old constant refused.
	caps.MaxResolverMemoryPages = meta.CeilingMemoryPages
	if err := (meta.Resolver{MemoryPages: 4096}).WithCappedDefaults(caps).Validate(caps); err != nil {
		t.Errorf("4096 pages under a cap of 16384: %v", err)
	}
}
