package meta_test

import (
	"regexp"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func TestEveryCreateStartsAnIncarnation(t *testing.T) {
	t.Parallel()
	s := open(t)
	first, err := s.Create(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Incarnation == 0 || meta.CreatedAtVersion(first.Incarnation) != first.Version {
		t.Fatalf("created %+v: the incarnation must be nonzero and carry the creation version", first)
	}
	first.Limits.MaxSiblings = 5
	updated, err := s.Update(first)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Incarnation != first.Incarnation {
		t.Errorf("update changed the incarnation: %x → %x", first.Incarnation, updated.Incarnation)
	}
	forged := updated
	forged.Incarnation++
	if again, err := s.Update(forged); err != nil || again.Incarnation != first.Incarnation {
		t.Errorf("an update must keep the incarnation, whatever the caller passes: %+v, %v", again, err)
	}
	if err := s.Delete("x"); err != nil {
		t.Fatal(err)
	}
	var tomb meta.Namespace
	for _, ns := range s.All() {
		if ns.Name == "x" {
			tomb = ns
		}
	}
	if !tomb.Deleted || tomb.Incarnation != first.Incarnation {
		t.Fatalf("the deletion must name the incarnation it deletes: %+v", tomb)
	}
	second, err := s.Create(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Incarnation == first.Incarnation || second.StorageName() == first.StorageName() {
		t.Fatalf("re-create kept the incarnation %x", first.Incarnation)
	}
	if meta.CreatedAtVersion(second.Incarnation) != tomb.Version+1 {
		t.Errorf("re-create at version %d has incarnation %x", second.Version, second.Incarnation)
	}
}

// Every fresh store creates "default" on its own: all of them must put its
// data in the same place, or nodes joining a cluster would disagree.
func TestFreshStoresAgreeOnTheDefaultNamespace(t *testing.T) {
	t.Parallel()
	for range 3 {
		ns, err := open(t).Get(meta.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if ns.Incarnation != 0 || ns.StorageName() != meta.DefaultNamespace {
			t.Fatalf("fresh default = %+v, storage %q", ns, ns.StorageName())
		}
	}
}

func TestStorageNames(t *testing.T) {
	t.Parallel()
	good := []struct {
		name    string
		inc     uint64
		storage string
	}{
		{"default", 0, "default"},
		{"x", 0x0000000300000001, "x#0000000300000001"},
		{"carts_v2-eu", 0xffffffffffffffff, "carts_v2-eu#ffffffffffffffff"},
	}
	for _, g := range good {
		if got := meta.StorageName(g.name, g.inc); got != g.storage {
			t.Errorf("StorageName(%q, %x) = %q, want %q", g.name, g.inc, got, g.storage)
		}
		name, inc, err := meta.ParseStorageName(g.storage)
		if err != nil || name != g.name || inc != g.inc {
			t.Errorf("ParseStorageName(%q) = %q, %x, %v", g.storage, name, inc, err)
		}
	}
	for _, bad := range []string{
		"", "X", "x#", "x#1", "x#0000000000000000", "x#00000003000000010", "x#000000030000000g",
		"x#0000000300000001#x", "x#00000003000000AB", "#0000000300000001", "x\x00#0000000300000001",
	} {
		if name, inc, err := meta.ParseStorageName(bad); err == nil {
			t.Errorf("ParseStorageName(%q) = %q, %x; want an error", bad, name, inc)
		}
	}
}

// A storage name names exactly one (namespace, incarnation): parsing gives
// it back, so no two incarnations of any names share data.
func TestStorageNamesRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,62}`).Draw(t, "name")
		inc := rapid.Uint64().Draw(t, "incarnation")
		gotName, gotInc, err := meta.ParseStorageName(meta.StorageName(name, inc))
		if err != nil || gotName != name || gotInc != inc {
			t.Fatalf("round trip of (%q, %x): %q, %x, %v", name, inc, gotName, gotInc, err)
		}
	})
}

func TestFate(t *testing.T) {
	t.Parallel()
	const inc3 = 0x0000000300000007 // created at version 3
	live := meta.Namespace{Name: "x", Version: 4, Incarnation: inc3}
	deleted := meta.Namespace{Name: "x", Version: 5, Incarnation: inc3, Deleted: true}
	legacy := meta.Namespace{Name: "x", Version: 2}
	for _, c := range []struct {
		what string
		cur  meta.Namespace
		inc  uint64
		want meta.Fate
	}{
		{"the current incarnation", live, inc3, meta.Live},
		{"an earlier incarnation", live, 0x0000000100000009, meta.Dead},
		{"data from before incarnations", live, 0, meta.Dead},
		{"a concurrent create that lost", live, 0x0000000300000008, meta.Dead},
		{"a create at the version held", live, 0x0000000400000001, meta.Dead},
		{"a create after the version held", live, 0x0000000500000001, meta.Unknown},
		{"the deleted incarnation", deleted, inc3, meta.Dead},
		{"the create after the delete", deleted, 0x0000000600000001, meta.Unknown},
		{"a legacy namespace", legacy, 0, meta.Live},
		{"a create after a legacy namespace", legacy, 0x0000000300000001, meta.Unknown},
	} {
		if got := c.cur.Fate(c.inc); got != c.want {
			t.Errorf("%s: Fate(%x) under %+v = %v, want %v", c.what, c.inc, c.cur, got, c.want)
		}
	}
}

// TestMetadataOutOfOrder: a node that never saw a namespace's delete, only
// the create after it, treats the old incarnation's data as dead; late
// gossip of the delete or of the old incarnation changes nothing.
func TestMetadataOutOfOrder(t *testing.T) {
	t.Parallel()
	origin, lagging := open(t), open(t)
	first, err := origin.Create(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lagging.Apply(first); err != nil {
		t.Fatal(err)
	}
	if err := origin.Delete("x"); err != nil {
		t.Fatal(err)
	}
	var tomb meta.Namespace
	for _, ns := range origin.All() {
		if ns.Name == "x" {
			tomb = ns
		}
	}
	second, err := origin.Create(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := lagging.Fate(second.StorageName()); got != meta.Unknown {
		t.Errorf("before the new metadata arrives, the new incarnation is %v, want unknown", got)
	}
	if got := lagging.Fate(first.StorageName()); got != meta.Live {
		t.Errorf("before the new metadata arrives, the old incarnation is %v, want live", got)
	}

	if changed, err := lagging.Apply(second); err != nil || !changed {
		t.Fatalf("apply the re-create alone: changed=%v, %v", changed, err)
	}
	check := func(when string) {
		t.Helper()
		if got := lagging.Fate(first.StorageName()); got != meta.Dead {
			t.Errorf("%s: old incarnation is %v, want dead", when, got)
		}
		if got := lagging.Fate(second.StorageName()); got != meta.Live {
			t.Errorf("%s: new incarnation is %v, want live", when, got)
		}
		if ns, err := lagging.Get("x"); err != nil || ns.Incarnation != second.Incarnation {
			t.Errorf("%s: x = %+v, %v", when, ns, err)
		}
	}
	check("after the re-create")
	for _, late := range []meta.Namespace{tomb, first} {
		if changed, err := lagging.Apply(late); err != nil || changed {
			t.Errorf("late version %d applied: changed=%v, %v", late.Version, changed, err)
		}
	}
	check("after late gossip")
	if got := lagging.Fate("nosuch#0000000100000001"); got != meta.Unknown {
		t.Errorf("a namespace never heard of is %v, want unknown", got)
	}
	if got := lagging.Fate("x#zz"); got != meta.Unknown {
		t.Errorf("a malformed storage name is %v, want unknown", got)
	}
}

func TestReopenKeepsIncarnations(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	s, err := meta.Open(eng, defaults(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := s.Create(meta.Namespace{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = meta.Open(eng, defaults(), time.Now); err != nil {
		t.Fatal(err)
	}
	if got := s.Fate(ns.StorageName()); got != meta.Live {
		t.Fatalf("after reopen the incarnation is %v", got)
	}
}

// ValidateName runs on every object a node receives, so it is a loop; the
// regular expression of the documented rule is its oracle.
func TestValidateNameMatchesTheRule(t *testing.T) {
	t.Parallel()
	rule := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(
			rapid.StringMatching(`[a-z0-9_#A-Z-]{0,66}`),
			rapid.String(),
		).Draw(t, "name")
		if got, want := meta.ValidateName(s) == nil, rule.MatchString(s); got != want {
			t.Fatalf("ValidateName(%q) accepts: %v, the rule: %v", s, got, want)
		}
	})
}
