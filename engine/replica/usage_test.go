package replica_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func live(v string) dvv.Sibling { return dvv.Sibling{Value: []byte(v)} }

func tombstone() dvv.Sibling { return dvv.Sibling{Value: []byte{}, Tombstone: true} }

// TestUsageOf: a key counts once, with its own bytes, while it has a live
// sibling; every live sibling's value counts; tombstones count nothing.
func TestUsageOf(t *testing.T) {
	t.Parallel()
	obj := func(sibs ...dvv.Sibling) dvv.Object {
		var o dvv.Object
		for i, s := range sibs { // blind writes of distinct actors: concurrent siblings
			o = o.Update(fmt.Sprint("a", i), dvv.Clock{}, s)
		}
		return o
	}
	for _, tt := range []struct {
		name string
		obj  dvv.Object
		want replica.Usage
	}{
		{"absent", dvv.Object{}, replica.Usage{}},
		{"one value", obj(live("hello")), replica.Usage{Keys: 1, Bytes: 3 + 5}},
		{"empty value", obj(live("")), replica.Usage{Keys: 1, Bytes: 3}},
		{"tombstone", obj(tombstone()), replica.Usage{}},
		{"siblings", obj(live("ab"), live("cde")), replica.Usage{Keys: 1, Bytes: 3 + 2 + 3}},
		{"a value and a tombstone", obj(live("ab"), tombstone()), replica.Usage{Keys: 1, Bytes: 3 + 2}},
	} {
		if got := replica.UsageOf([]byte("key"), tt.obj); got != tt.want {
			t.Errorf("%s: UsageOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestUsageFollowsWrites: every write moves a namespace's figures by the
// difference between the old and the new object: a new key adds it, an
// overwrite the change in size, a concurrent write its sibling, a delete
// takes the key out, a merge from another replica counts like a write.
// Other namespaces are untouched.
func TestUsageFollowsWrites(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	put := func(ns, key string, actor string, ctx bool, sib dvv.Sibling) {
		t.Helper()
		_, err := s.Mutate(ns, []byte(key), false, func(cur dvv.Object) (dvv.Object, error) {
			clock := dvv.Clock{}
			if ctx {
				clock = cur.Context()
			}
			return cur.Update(actor, clock, sib), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(ns string, keys, bytes int64) {
		t.Helper()
		if got := s.Usage(ns); got != (replica.Usage{Keys: keys, Bytes: bytes}) {
			t.Fatalf("usage of %s = %+v, want %d keys, %d bytes", ns, got, keys, bytes)
		}
	}
	put("a", "k1", "n1", true, live("12345"))
	want("a", 1, 2+5)
	put("a", "k2", "n1", true, live("1"))
	want("a", 2, 2+5+2+1)
	put("a", "k1", "n1", true, live("12")) // overwrite, shrinks
	want("a", 2, 2+2+2+1)
	put("a", "k1", "n2", false, live("xyz")) // concurrent: a second sibling
	want("a", 2, 2+2+3+2+1)
	put("a", "k1", "n1", true, tombstone()) // a delete that saw both
	want("a", 1, 2+1)
	put("a", "k1", "n1", true, tombstone()) // deleting a deleted key changes nothing
	want("a", 1, 2+1)
	put("a", "k1", "n1", true, live("back"))
	want("a", 2, 2+4+2+1)
	var remote dvv.Object
	remote = remote.Update("n9", dvv.Clock{}, live("remote"))
	if _, err := s.Merge("a", []byte("k3"), remote, false); err != nil {
		t.Fatal(err)
	}
	want("a", 3, 2+4+2+1+2+6)
	want("b", 0, 0)
	if got := s.UsageAll(); len(got) != 1 || got["a"] != s.Usage("a") {
		t.Fatalf("UsageAll = %v, want namespace a only", got)
	}
}

// TestRecountUsage: a store opened over data it did not write counts
// nothing until its partitions are recounted, then exactly what they
// hold; a recount of a partition whose figures drifted puts them right.
func TestRecountUsage(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	const q = 8
	first, err := replica.New(eng, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var o dvv.Object
		o = o.Update("n1", dvv.Clock{}, live(fmt.Sprint("value-", i)))
		if i%5 == 0 {
			o = o.Update("n1", o.Context(), tombstone())
		}
		if _, err := first.Merge(fmt.Sprint("ns", i%2), fmt.Appendf(nil, "key-%02d", i), o, false); err != nil {
			t.Fatal(err)
		}
	}
	want := first.UsageAll()
	if want["ns0"].Keys != 16 || want["ns1"].Keys != 16 {
		t.Fatalf("usage after the writes: %v, want 16 live keys in each namespace", want)
	}
	reopened, err := replica.New(eng, q, nil) // a restart: the figures are not stored
	if err != nil {
		t.Fatal(err)
	}
	if got := reopened.UsageAll(); len(got) != 0 {
		t.Fatalf("usage before any recount = %v, want none", got)
	}
	for p := range q {
		if err := reopened.RecountUsage(uint16(p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := reopened.UsageAll(); !equalUsage(got, want) {
		t.Fatalf("usage after a recount = %v, want %v", got, want)
	}
	// Drift: a key deleted behind the store's back (as a bug might).
	var b storage.Batch
	k := []byte("key-01")
	b.Delete(keys.Data(reopened.Partition("ns1", k), "ns1", k))
	if err := eng.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := reopened.RecountUsage(reopened.Partition("ns1", k)); err != nil {
		t.Fatal(err)
	}
	if got, w := reopened.Usage("ns1"), want["ns1"].Sub(replica.Usage{Keys: 1, Bytes: int64(len(k) + len("value-1"))}); got != w {
		t.Fatalf("usage of ns1 after the drift was recounted = %+v, want %+v", got, w)
	}
}

// TestRecountUsageRacingWrites: writes that run while partitions are
// recounted are counted exactly once.
func TestRecountUsageRacingWrites(t *testing.T) {
	t.Parallel()
	const q = 4
	s, err := replica.New(memory.New(), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Appendf(nil, "w%d-%d", w, i%50) // new keys, then overwrites
				_, err := s.Mutate("ns", key, false, func(cur dvv.Object) (dvv.Object, error) {
					return cur.Update("n1", cur.Context(), live(fmt.Sprint("v", i))), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			if err := s.RecountUsage(uint16(i % q)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	got := s.Usage("ns")
	for p := range q {
		if err := s.RecountUsage(uint16(p)); err != nil {
			t.Fatal(err)
		}
	}
	if want := s.Usage("ns"); got != want || want.Keys != 200 {
		t.Fatalf("usage while recounting = %+v, recounted at rest = %+v, want 200 keys both", got, want)
	}
}

// TestDropRangesTakesUsageOut: deleting a namespace's range in a
// partition, or a whole partition, takes exactly what it held out of the
// figures.
func TestDropRangesTakesUsageOut(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	const q = 4
	s, err := replica.New(eng, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var o dvv.Object
		o = o.Update("n1", dvv.Clock{}, live("v"))
		if _, err := s.Merge(fmt.Sprint("ns", i%2), fmt.Appendf(nil, "k%d", i), o, false); err != nil {
			t.Fatal(err)
		}
	}
	drop := func(r [2][]byte) {
		t.Helper()
		err := s.DropRanges([][2][]byte{r}, func() error {
			var b storage.Batch
			b.DeleteRange(r[0], r[1])
			return eng.Apply(&b, storage.WriteOptions{})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lo, hi := keys.NamespaceRange(0, "ns0")
	drop([2][]byte{lo, hi})
	lo, hi = keys.PartitionRange(1)
	drop([2][]byte{lo, hi})
	got := s.UsageAll()
	for p := range q {
		if err := s.RecountUsage(uint16(p)); err != nil {
			t.Fatal(err)
		}
	}
	if want := s.UsageAll(); !equalUsage(got, want) || want["ns0"].Keys+want["ns1"].Keys >= 40 {
		t.Fatalf("usage after the deletions = %v, recounted = %v", got, want)
	}
}

func equalUsage(a, b map[string]replica.Usage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
