package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/storage"
)

// RunConformance runs the storage contract tests against the engines that
// open returns. open must return a fresh, empty engine for each call; the
// suite closes it. Subtests run in parallel.
func RunConformance(t *testing.T, open func(t *testing.T) storage.Engine) {
	tests := []struct {
		name string
		run  func(t *testing.T, e storage.Engine)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"LargeValues", testLargeValues},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteRange", testDeleteRange},
		{"BatchOrder", testBatchOrder},
		{"BatchCopiesArguments", testBatchCopies},
		{"BatchReuse", testBatchReuse},
		{"EmptyBatch", testEmptyBatch},
		{"Iterate", testIterate},
		{"SeekGE", testSeekGE},
		{"IteratorUnpositioned", testIteratorUnpositioned},
		{"IteratorIsolation", testIteratorIsolation},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"SnapshotClose", testSnapshotClose},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"ManyKeys", testManyKeys},
		{"Closed", testClosed},
		{"ConcurrentWriters", testConcurrentWriters},
		{"BatchAtomicity", testBatchAtomicity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := open(t)
			t.Cleanup(func() {
				if err := e.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, e)
		})
	}
}

func testGetMissing(t *testing.T, e storage.Engine) {
	for _, k := range []string{"", "a", "\x00", "\xff\xff"} {
		wantGet(t, e, k, nil)
	}
	set(t, e, "b", "1")
	wantGet(t, e, "a", nil)
	wantGet(t, e, "b\x00", nil)
}

func testSetGet(t *testing.T, e storage.Engine) {
	cases := []struct{ name, key, value string }{
		{"plain", "k", "v"},
		{"empty key", "", "empty-key-value"},
		{"empty value", "empty-value", ""},
		{"zero bytes", "\x00\x00", "\x00"},
		{"high bytes", "\xff\xfe", "\xff"},
		{"prefix of another", "ab", "short"},
		{"extends another", "ab\x00", "long"},
	}
	var b storage.Batch
	for _, c := range cases {
		b.Set([]byte(c.key), []byte(c.value))
	}
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantGet(t, e, c.key, ptr(c.value))
		})
	}
}

// testLargeValues writes values larger than a small memtable. (It keeps away
// from the empty key: see the pebble package doc.)
func testLargeValues(t *testing.T, e storage.Engine) {
	cases := []struct {
		key  string
		size int
	}{{"1MiB", 1 << 20}, {"4MiB", 4 << 20}, {"after", 10}}
	for _, c := range cases {
		set(t, e, c.key, strings.Repeat(c.key[:1], c.size))
	}
	for _, c := range cases {
		wantGet(t, e, c.key, ptr(strings.Repeat(c.key[:1], c.size)))
	}
}

func testOverwrite(t *testing.T, e storage.Engine) {
	for _, v := range []string{"1", "22", "", "4444"} {
		set(t, e, "k", v)
		wantGet(t, e, "k", ptr(v))
	}
	if got := Collect(t, e, nil, nil); !slices.Equal(got, []KV{{"k", "4444"}}) {
		t.Errorf("scan after overwrites = %q", got)
	}
}

func testDelete(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1", "b", "2", "", "empty")
	apply(t, e, func(b *storage.Batch) {
		b.Delete([]byte("a"))
		b.Delete([]byte(""))
		b.Delete([]byte("missing")) // deleting an absent key is no error
	})
	wantGet(t, e, "a", nil)
	wantGet(t, e, "", nil)
	wantGet(t, e, "b", ptr("2"))
	set(t, e, "a", "again")
	wantGet(t, e, "a", ptr("again"))
}

func testDeleteRange(t *testing.T, e storage.Engine) {
	keys := []string{"", "a", "b", "b\x00", "ba", "c", "d", "\xff"}
	cases := []struct {
		name       string
		start, end string
	}{
		{"middle", "b", "c"},
		{"from empty key", "", "b"},
		{"start inclusive end exclusive", "a", "d"},
		{"to the top", "c", "\xff\xff"},
		{"everything", "", "\xff\xff"},
		{"no keys inside", "bb", "bc"},
		{"empty range", "b", "b"},
		{"reversed range deletes nothing", "d", "a"},
	}
	// Each case uses its own key prefix in the one engine.
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := fmt.Sprintf("%02d/", i)
			m := model{}
			var b storage.Batch
			for _, k := range keys {
				b.Set([]byte(prefix+k), []byte(k))
			}
			m.apply(&b)
			if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			b.Reset()
			b.DeleteRange([]byte(prefix+c.start), []byte(prefix+c.end))
			m.apply(&b)
			if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			lower, upper := []byte(prefix), []byte(prefix+"\xff\xff")
			if got, want := Collect(t, e, lower, upper), m.scan(lower, upper); !slices.Equal(got, want) {
				t.Errorf("after DeleteRange(%q, %q): %q, want %q", c.start, c.end, got, want)
			}
		})
	}
}

func testBatchOrder(t *testing.T, e storage.Engine) {
	// Operations of one batch apply in order, so later ones win.
	cases := []struct {
		name string
		fill func(b *storage.Batch, k []byte)
		want *string
	}{
		{"set then delete", func(b *storage.Batch, k []byte) { b.Set(k, []byte("v")); b.Delete(k) }, nil},
		{"delete then set", func(b *storage.Batch, k []byte) { b.Delete(k); b.Set(k, []byte("v")) }, ptr("v")},
		{"set twice", func(b *storage.Batch, k []byte) { b.Set(k, []byte("1")); b.Set(k, []byte("2")) }, ptr("2")},
		{"set then delete range", func(b *storage.Batch, k []byte) {
			b.Set(k, []byte("v"))
			b.DeleteRange(k, append(bytes.Clone(k), 0))
		}, nil},
		{"delete range then set", func(b *storage.Batch, k []byte) {
			b.DeleteRange(k, append(bytes.Clone(k), 0))
			b.Set(k, []byte("v"))
		}, ptr("v")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := []byte(c.name)
			set(t, e, c.name, "old")
			apply(t, e, func(b *storage.Batch) { c.fill(b, k) })
			wantGet(t, e, c.name, c.want)
		})
	}
}

func testBatchCopies(t *testing.T, e storage.Engine) {
	var b storage.Batch
	k, v := []byte("key"), []byte("value")
	b.Set(k, v)
	k[0], v[0] = 'X', 'X'
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	v[1] = 'Y' // the engine must not keep the caller's slices either
	wantGet(t, e, "key", ptr("value"))
	wantGet(t, e, "Xey", nil)
}

func testBatchReuse(t *testing.T, e storage.Engine) {
	var b storage.Batch
	b.Set([]byte("a"), []byte("first"))
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: Len %d, Size %d", b.Len(), b.Size())
	}
	// Reusing the buffer overwrites the bytes of the first batch; an
	// engine that kept references would now see "b"/"XXXXX".
	b.Set([]byte("b"), []byte("XXXXX"))
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := Collect(t, e, nil, nil); !slices.Equal(got, []KV{{"a", "first"}, {"b", "XXXXX"}}) {
		t.Errorf("after reuse: %q", got)
	}
}

func testEmptyBatch(t *testing.T, e storage.Engine) {
	for _, sync := range []bool{false, true} {
		if err := e.Apply(&storage.Batch{}, storage.WriteOptions{Sync: sync}); err != nil {
			t.Errorf("Apply(empty, sync=%v): %v", sync, err)
		}
	}
	if got := Collect(t, e, nil, nil); len(got) != 0 {
		t.Errorf("after empty batches: %q", got)
	}
}

// iterKeys are the keys of the iteration tests, chosen around the edges of
// bytes.Compare: the empty key, zero bytes, prefixes and 0xff.
var iterKeys = []string{"", "\x00", "a", "a\x00", "ab", "b", "ba", "c", "\xff", "\xff\xff"}

func fillIterKeys(t *testing.T, e storage.Engine) model {
	m := model{}
	var b storage.Batch
	for i, k := range iterKeys {
		b.Set([]byte(k), []byte(fmt.Sprint(i)))
	}
	m.apply(&b)
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// bound makes a bound: "nil" is unbounded, anything else is the bytes.
func bound(s string) []byte {
	if s == "nil" {
		return nil
	}
	return []byte(s)
}

func testIterate(t *testing.T, e storage.Engine) {
	m := fillIterKeys(t, e)
	cases := []struct{ lower, upper string }{
		{"nil", "nil"},
		{"", "nil"},
		{"b", "c"},
		{"a", "b"},
		{"nil", "a\x00"},
		{"\x00", "nil"},
		{"ab", "ab\x00"},
		{"bb", "bc"},             // nothing inside
		{"c", "b"},               // reversed: empty
		{"b", "b"},               // equal: empty
		{"nil", ""},              // empty upper: empty
		{"\xff", "\xff\xff\xff"}, // top keys
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q-%q", c.lower, c.upper), func(t *testing.T) {
			lower, upper := bound(c.lower), bound(c.upper)
			want := m.scan(lower, upper)
			if upper != nil && bytes.Compare(lower, upper) >= 0 {
				want = nil
			}
			if got := Collect(t, e, lower, upper); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func testSeekGE(t *testing.T, e storage.Engine) {
	m := fillIterKeys(t, e)
	cases := []struct {
		lower, upper, seek string
	}{
		{"nil", "nil", ""},
		{"nil", "nil", "a"},            // exact key
		{"nil", "nil", "a\x00\x00"},    // between keys
		{"nil", "nil", "\xff\xff\x00"}, // past the last key
		{"b", "c", "a"},                // below lower: clamps to lower
		{"b", "c", "bz"},               // past the last key in bounds
		{"b", "c", "c"},                // at upper: invalid
		{"a", "nil", "ab"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q-%q@%q", c.lower, c.upper, c.seek), func(t *testing.T) {
			lower, upper := bound(c.lower), bound(c.upper)
			seekFrom := []byte(c.seek)
			if lower != nil && bytes.Compare(seekFrom, lower) < 0 {
				seekFrom = lower
			}
			want := m.scan(seekFrom, upper)
			if upper != nil && bytes.Compare(seekFrom, upper) >= 0 {
				want = nil
			}
			it, err := e.NewIter(lower, upper)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			var got []KV
			for ok := it.SeekGE([]byte(c.seek)); ok; ok = it.Next() {
				got = append(got, KV{string(it.Key()), string(it.Value())})
			}
			if err := it.Error(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			// Seeking again, backwards, repositions the iterator.
			if len(want) > 0 {
				if !it.SeekGE([]byte(want[0].Key)) || string(it.Key()) != want[0].Key {
					t.Errorf("re-seek to %q failed", want[0].Key)
				}
			}
		})
	}
}

func testIteratorUnpositioned(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1")
	it, err := e.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if it.Valid() || it.Next() || it.Key() != nil || it.Value() != nil {
		t.Error("a new iterator must be unpositioned")
	}
	if !it.First() || it.Next() || it.Valid() {
		t.Error("one key: First then Next must end the iteration")
	}
	if it.Next() {
		t.Error("Next after the end must stay invalid")
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testIteratorIsolation(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1", "b", "2")
	it, err := e.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	set(t, e, "a", "changed", "c", "new")
	apply(t, e, func(b *storage.Batch) { b.Delete([]byte("b")) })
	var got []KV
	for ok := it.First(); ok; ok = it.Next() {
		got = append(got, KV{string(it.Key()), string(it.Value())})
	}
	if want := []KV{{"a", "1"}, {"b", "2"}}; !slices.Equal(got, want) {
		t.Errorf("iterator saw later writes: %q, want %q", got, want)
	}
}

func testSnapshotIsolation(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1", "b", "2", "c", "3", "d", "4")
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	apply(t, e, func(b *storage.Batch) {
		b.Set([]byte("a"), []byte("changed"))
		b.Delete([]byte("b"))
		b.DeleteRange([]byte("c"), []byte("e"))
		b.Set([]byte("z"), []byte("new"))
	})
	before := []KV{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}
	after := []KV{{"a", "changed"}, {"z", "new"}}
	if got := Collect(t, snap, nil, nil); !slices.Equal(got, before) {
		t.Errorf("snapshot scan = %q, want %q", got, before)
	}
	if got := Collect(t, e, nil, nil); !slices.Equal(got, after) {
		t.Errorf("engine scan = %q, want %q", got, after)
	}
	wantGet(t, snap, "a", ptr("1"))
	wantGet(t, snap, "b", ptr("2"))
	wantGet(t, snap, "z", nil)
	if got := Collect(t, snap, []byte("b"), []byte("d")); !slices.Equal(got, before[1:3]) {
		t.Errorf("bounded snapshot scan = %q", got)
	}
	// Concurrent readers of one snapshot.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				wantGet(t, snap, "c", ptr("3"))
			}
		})
	}
	wg.Wait()
}

func testSnapshotClose(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1")
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := snap.Get([]byte("a")); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Get on closed snapshot: %v, want ErrClosed", err)
	}
	if _, err := snap.NewIter(nil, nil); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("NewIter on closed snapshot: %v, want ErrClosed", err)
	}
	wantGet(t, e, "a", ptr("1"))
}

func testGetReturnsCopy(t *testing.T, e storage.Engine) {
	set(t, e, "k", "value")
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, r := range []storage.Reader{e, snap} {
		v, err := r.Get([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			v[i] = 'X'
		}
		_ = append(v[:1], "appended"...) // must not reach shared memory either
		wantGet(t, r, "k", ptr("value"))
	}
}

func testManyKeys(t *testing.T, e storage.Engine) {
	const n = 5000
	var b storage.Batch
	for i := range n {
		b.Set(Key(i), bytes.Repeat([]byte{byte(i)}, i%200))
		if b.Len() == 500 {
			if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	// Delete every third key, and a range in the middle.
	for i := 0; i < n; i += 3 {
		b.Delete(Key(i))
	}
	b.DeleteRange(Key(1000), Key(2000))
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range n {
		if i%3 != 0 && (i < 1000 || i >= 2000) {
			want = append(want, i)
		}
	}
	got := Collect(t, e, nil, nil)
	if len(got) != len(want) {
		t.Fatalf("scan returned %d keys, want %d", len(got), len(want))
	}
	for j, i := range want {
		if got[j].Key != string(Key(i)) || len(got[j].Value) != i%200 {
			t.Fatalf("key %d: got %q (value %d bytes), want %q", j, got[j].Key, len(got[j].Value), Key(i))
		}
	}
}

func testClosed(t *testing.T, e storage.Engine) {
	set(t, e, "a", "1", "b", "2")
	it, err := e.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.First() {
		t.Fatal("First: no key")
	}
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	snapIt, err := snap.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	checks := []struct {
		name string
		err  func() error
	}{
		{"Get", func() error { _, err := e.Get([]byte("a")); return err }},
		{"NewIter", func() error { _, err := e.NewIter(nil, nil); return err }},
		{"Apply", func() error { return e.Apply(&storage.Batch{}, storage.WriteOptions{}) }},
		{"NewSnapshot", func() error { _, err := e.NewSnapshot(); return err }},
		{"Close", e.Close},
		{"Snapshot.Get", func() error { _, err := snap.Get([]byte("a")); return err }},
		{"Snapshot.NewIter", func() error { _, err := snap.NewIter(nil, nil); return err }},
		{"Iterator.Next", func() error { it.Next(); return it.Error() }},
		{"Iterator.First", func() error { it.First(); return it.Error() }},
		{"SnapshotIterator.First", func() error { snapIt.First(); return snapIt.Error() }},
	}
	for _, c := range checks {
		if err := c.err(); !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, err)
		}
	}
	if it.Valid() || it.Key() != nil {
		t.Error("iterator still valid after engine Close")
	}
	// Releasing what the engine already released must not fail or panic.
	for _, c := range []interface{ Close() error }{it, snapIt, snap} {
		if err := c.Close(); err != nil {
			t.Errorf("Close after engine Close: %v", err)
		}
	}
}

func testConcurrentWriters(t *testing.T, e storage.Engine) {
	const writers, batches, perBatch = 8, 50, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var b storage.Batch
			for i := range batches {
				b.Reset()
				for j := range perBatch {
					k := fmt.Sprintf("w%d/%04d/%d", w, i, j)
					b.Set([]byte(k), []byte(k))
				}
				// Every writer also overwrites one shared key.
				b.Set([]byte("shared"), fmt.Appendf(nil, "w%d", w))
				if err := e.Apply(&b, storage.WriteOptions{Sync: i%10 == 0}); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
			}
		})
	}
	// Readers run alongside.
	for range 2 {
		wg.Go(func() {
			for range 20 {
				it, err := e.NewIter([]byte("w"), []byte("x"))
				if err != nil {
					t.Errorf("NewIter: %v", err)
					return
				}
				var prev []byte
				for ok := it.First(); ok; ok = it.Next() {
					if prev != nil && bytes.Compare(prev, it.Key()) >= 0 {
						t.Errorf("keys out of order: %q then %q", prev, it.Key())
					}
					prev = append(prev[:0], it.Key()...)
					if !bytes.Equal(it.Key(), it.Value()) {
						t.Errorf("key %q has value %q", it.Key(), it.Value())
					}
				}
				if err := it.Close(); err != nil {
					t.Errorf("iterator: %v", err)
				}
				if _, err := e.Get([]byte("shared")); err != nil && !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Get: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got := Collect(t, e, []byte("w"), []byte("x"))
	if len(got) != writers*batches*perBatch {
		t.Errorf("%d keys, want %d", len(got), writers*batches*perBatch)
	}
	v, err := e.Get([]byte("shared"))
	if err != nil || !slices.Contains([]byte("01234567"), v[len(v)-1]) {
		t.Errorf("shared = %q, %v", v, err)
	}
}

// testBatchAtomicity checks that readers never see part of a batch: every
// batch sets all keys of a group to one generation number, and every
// snapshot and iterator must see one generation across the group.
func testBatchAtomicity(t *testing.T, e storage.Engine) {
	const group, generations = 16, 200
	keys := make([][]byte, group)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "g/%02d", i)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		var b storage.Batch
		for gen := range generations {
			b.Reset()
			v := fmt.Appendf(nil, "%06d", gen)
			if gen%2 == 1 {
				// Odd generations rewrite the group after a range delete.
				b.DeleteRange([]byte("g/"), []byte("g0"))
			}
			for _, k := range keys {
				b.Set(k, v)
			}
			if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
		}
	})
	check := func(r storage.Reader) {
		got := Collect(t, r, []byte("g/"), []byte("g0"))
		if len(got) != 0 && len(got) != group {
			t.Errorf("saw %d of %d keys of a batch", len(got), group)
		}
		for _, kv := range got {
			if kv.Value != got[0].Value {
				t.Errorf("saw generations %s and %s in one view", got[0].Value, kv.Value)
				return
			}
		}
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				check(e)
				snap, err := e.NewSnapshot()
				if err != nil {
					t.Errorf("NewSnapshot: %v", err)
					return
				}
				check(snap)
				if err := snap.Close(); err != nil {
					t.Errorf("snapshot Close: %v", err)
				}
			}
		})
	}
	wg.Wait()
	check(e)
}
