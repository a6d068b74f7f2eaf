package meta_test

import (
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
)

// TestQuotaAndResolverLimits: quotas default to unlimited (0) and the
// resolver limits to the defaults (0), each is bounded, and they travel
// with the namespace's gossiped document.
func TestQuotaAndResolverLimits(t *testing.T) {
	t.Parallel()
	s := open(t)
	ns, err := s.Create(meta.Namespace{Name: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	if l := ns.Limits; l.MaxKeys != 0 || l.MaxStoredBytes != 0 || l.ResolverCPUMsPerSecond != 0 || l.ResolverConcurrency != 0 {
		t.Errorf("a new namespace's limits = %+v, want no quota and the default resolver limits", l)
	}
	for _, tc := range []struct {
		name   string
		limits func(*meta.Limits)
		field  string // of the InvalidError; "" valid
	}{
		{"at the ceilings", func(l *meta.Limits) {
			l.MaxKeys, l.MaxStoredBytes = meta.CeilingQuota, meta.CeilingQuota
			l.ResolverCPUMsPerSecond, l.ResolverConcurrency = meta.CeilingResolverCPUMsPerSecond, meta.CeilingResolverConcurrency
		}, ""},
		{"max_keys above", func(l *meta.Limits) { l.MaxKeys = meta.CeilingQuota + 1 }, "limits.max_keys"},
		{"max_stored_bytes above", func(l *meta.Limits) { l.MaxStoredBytes = meta.CeilingQuota + 1 }, "limits.max_stored_bytes"},
		{"resolver_cpu_ms_per_second above", func(l *meta.Limits) { l.ResolverCPUMsPerSecond = meta.CeilingResolverCPUMsPerSecond + 1 }, "limits.resolver_cpu_ms_per_second"},
		{"resolver_concurrency above", func(l *meta.Limits) { l.ResolverConcurrency = meta.CeilingResolverConcurrency + 1 }, "limits.resolver_concurrency"},
	} {
		next := ns
		tc.limits(&next.Limits)
		err := next.Validate()
		var inv *errs.InvalidError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &inv) || inv.Field != tc.field):
			t.Errorf("%s: err = %v, want an InvalidError of %s", tc.name, err, tc.field)
		}
	}
	ns.Limits.MaxKeys, ns.Limits.MaxStoredBytes, ns.Limits.ResolverCPUMsPerSecond, ns.Limits.ResolverConcurrency = 50, 1<<30, 20, 4
	if ns, err = s.Update(ns); err != nil {
		t.Fatal(err)
	}
	raw, err := meta.Encode(ns)
	if err != nil {
		t.Fatal(err)
	}
	got, err := meta.Decode(raw)
	if err != nil || got.Limits != ns.Limits {
		t.Errorf("gossiped limits = %+v, %v; want %+v", got.Limits, err, ns.Limits)
	}
}
