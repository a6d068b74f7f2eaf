package meta_test

import (
	"errors"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func defaults() meta.Defaults {
	return meta.Defaults{N: 3, R: 2, W: 2, DW: 1, Durability: meta.DurabilitySync, Limits: meta.DefaultLimits()}
}

func open(t *testing.T) *meta.Store {
	t.Helper()
	s, err := meta.Open(memory.New(), defaults(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFreshStoreHasDefaultNamespace(t *testing.T) {
	t.Parallel()
	ns, err := open(t).Get(meta.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if ns.N != 3 || ns.R != 2 || ns.W != 2 || ns.Limits.MaxValueBytes != 1<<20 || ns.Version != 1 {
		t.Fatalf("default namespace = %+v", ns)
	}
}

func TestVersionsCountChangesAndDeletesSpread(t *testing.T) {
	t.Parallel()
	s := open(t)
	var published []meta.Namespace
	s.OnChange(func(ns meta.Namespace) { published = append(published, ns) })

	ns, err := s.Create(meta.Namespace{Name: "carts", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ns.R != 1 || ns.W != 1 {
		t.Errorf("defaults above n must be clamped to n: %+v", ns)
	}
	if _, err := s.Create(meta.Namespace{Name: "carts"}); !errors.Is(err, errs.ErrNamespaceExists) {
		t.Errorf("duplicate create: %v", err)
	}
	ns.Limits.MaxSiblings = 7
	if ns, err = s.Update(ns); err != nil || ns.Version != 2 {
		t.Fatalf("update: %+v, %v", ns, err)
	}
	ns.N = 2
	if _, err := s.Update(ns); err == nil {
		t.Errorf("changing n must be refused")
	}
	if err := s.Delete("carts"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("carts"); !errors.Is(err, errs.ErrNamespaceNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	again, err := s.Create(meta.Namespace{Name: "carts"})
	if err != nil || again.Version != 4 {
		t.Fatalf("re-create after delete: %+v, %v (version must continue after the delete's)", again, err)
	}
	var versions []uint64
	for _, p := range published {
		versions = append(versions, p.Version)
	}
	if len(versions) != 4 || versions[2] != 3 || !published[2].Deleted {
		t.Errorf("published versions = %v (deleted: %v)", versions, published[2].Deleted)
	}
}

func TestApplyKeepsTheNewestVersion(t *testing.T) {
	t.Parallel()
	s := open(t)
	ns, err := s.Create(meta.Namespace{Name: "a", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	older := ns
	older.Version = 0
	older.Limits.MaxSiblings = 3
	if changed, err := s.Apply(older); err != nil || changed {
		t.Fatalf("an older version must not replace a newer one: changed=%v err=%v", changed, err)
	}
	newer := ns
	newer.Version = 5
	newer.Limits.MaxSiblings = 9
	if changed, err := s.Apply(newer); err != nil || !changed {
		t.Fatalf("apply newer: changed=%v err=%v", changed, err)
	}
	if got, _ := s.Get("a"); got.Limits.MaxSiblings != 9 {
		t.Fatalf("after apply: %+v", got)
	}
	if changed, _ := s.Apply(newer); changed {
		t.Fatalf("applying the same version twice must change nothing")
	}
}

func TestReopenKeepsNamespaces(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	s, err := meta.Open(eng, defaults(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(meta.Namespace{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(meta.DefaultNamespace); err != nil {
		t.Fatal(err)
	}
	s, err = meta.Open(eng, defaults(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	list := s.List()
	if len(list) != 1 || list[0].Name != "kept" {
		t.Fatalf("after reopen: %+v (a deleted default must not come back)", list)
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "default", "carts_v2", "x-1", "0abc"} {
		if err := meta.ValidateName(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "-a", "_a", "a b", "a\x00b", "ä", string(make([]byte, 64))} {
		if err := meta.ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRateLimits: a namespace's request rate limits default to unlimited
// (0), are bounded by CeilingRate, survive an update that leaves them out
// (no field mask) and travel with the namespace's gossiped document.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	s := open(t)
	ns, err := s.Create(meta.Namespace{Name: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Limits.ReadsPerSecond != 0 || ns.Limits.WritesPerSecond != 0 {
		t.Errorf("a new namespace's rate limits = %+v, want unlimited", ns.Limits)
	}
	for _, tc := range []struct {
		name   string
		limits func(*meta.Limits)
		field  string // of the InvalidError; "" valid
	}{
		{"at the ceiling", func(l *meta.Limits) { l.ReadsPerSecond, l.WritesPerSecond = meta.CeilingRate, meta.CeilingRate }, ""},
		{"reads above", func(l *meta.Limits) { l.ReadsPerSecond = meta.CeilingRate + 1 }, "limits.reads_per_second"},
		{"writes above", func(l *meta.Limits) { l.WritesPerSecond = meta.CeilingRate + 1 }, "limits.writes_per_second"},
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
	ns.Limits.ReadsPerSecond, ns.Limits.WritesPerSecond = 10, 20
	if ns, err = s.Update(ns); err != nil {
		t.Fatal(err)
	}
	kept := meta.Namespace{Name: "fresh"}.WithDefaults(meta.Defaults{N: ns.N, R: ns.R, W: ns.W, DW: ns.DW, Durability: ns.Durability, Limits: ns.Limits})
	if kept.Limits != ns.Limits {
		t.Errorf("WithDefaults lost the rate limits: %+v, want %+v", kept.Limits, ns.Limits)
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
