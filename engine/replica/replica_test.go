package replica_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
	"github.com/concord-kv/concord/internal/wait"
)

// newStore returns a Store over an in-memory engine with a cache so small
// (testCacheBytes) that its entries are evicted all the time: every test
// of the Store also checks that the cache changes nothing it answers.
func newStore(t *testing.T, obs replica.Observer) *replica.Store {
	t.Helper()
	s, err := replica.New(memory.New(), 16, obs)
	if err != nil {
		t.Fatal(err)
	}
	s.CacheObjects(testCacheBytes)
	return s
}

// testCacheBytes is a cache of a few objects per shard.
const testCacheBytes = 64 * 512

// TestMutateIsAtomicPerKey: concurrent read-modify-writes of one key, each
// replacing what it read, leave exactly one sibling and lose no update.
func TestMutateIsAtomicPerKey(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				_, err := s.Mutate("ns", []byte("k"), false, func(cur dvv.Object) (dvv.Object, error) {
					return cur.Update("a", cur.Context(), dvv.Sibling{Value: fmt.Appendf(nil, "%d-%d", w, i)}), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	o, err := s.Get("ns", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != 1 || o.Context().Get("a") != 400 {
		t.Fatalf("after 400 serialised updates: %d siblings, counter %d", o.Len(), o.Context().Get("a"))
	}
}

func TestObserverSeesOldAndNewEncodings(t *testing.T) {
	t.Parallel()
	type change struct{ old, new []byte }
	var seen []change
	s := newStore(t, func(_ uint16, nsKey, old, new []byte) {
		if !bytes.HasSuffix(nsKey, []byte("k")) {
			t.Errorf("observer key %q", nsKey)
		}
		seen = append(seen, change{old, new})
	})
	v1 := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Tombstone: true})
	if _, err := s.Merge("ns", []byte("k"), v1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge("ns", []byte("k"), v1, false); err != nil { // no change: no call
		t.Fatal(err)
	}
	if ok, err := s.DeleteIfEqual("ns", []byte("k"), v1); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	enc, _ := v1.MarshalBinary()
	if len(seen) != 2 || seen[0].old != nil || !bytes.Equal(seen[0].new, enc) || !bytes.Equal(seen[1].old, enc) || seen[1].new != nil {
		t.Fatalf("observer calls: %+v", seen)
	}
}

// TestDeleteIfEqualKeepsALiveObject: only tombstones are purged, even when
// the caller names the stored object exactly.
func TestDeleteIfEqualKeepsALiveObject(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	v := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("live")})
	if _, err := s.Merge("ns", []byte("k"), v, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DeleteIfEqual("ns", []byte("k"), v); err != nil || ok {
		t.Fatalf("a purge of a live object: removed %v, err %v", ok, err)
	}
	if o, _ := s.Get("ns", []byte("k")); !o.Equal(v) {
		t.Fatal("the live value changed")
	}
}

func TestDeleteIfEqualKeepsAChangedObject(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	v1 := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Tombstone: true})
	if _, err := s.Merge("ns", []byte("k"), v1, false); err != nil {
		t.Fatal(err)
	}
	v2 := v1.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("new")})
	if _, err := s.Merge("ns", []byte("k"), v2, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DeleteIfEqual("ns", []byte("k"), v1); err != nil || ok {
		t.Fatalf("a purge of the old tombstone removed a newer object: %v %v", ok, err)
	}
	if o, _ := s.Get("ns", []byte("k")); !o.HasLive() {
		t.Fatal("the newer value is gone")
	}
}

// TestHintsMergeAndDropOnlyWhatWasDelivered: hints for an owner merge; a
// hint that changed after it was read for delivery is not dropped.
func TestHintsMergeAndDropOnlyWhatWasDelivered(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	x := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	y := dvv.Object{}.Update("c", dvv.Clock{}, dvv.Sibling{Value: []byte("y")})
	for _, o := range []dvv.Object{x, y} {
		if err := s.StoreHint("b", "ns", []byte("k"), o, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StoreHint("d", "ns", []byte("k2"), x, false); err != nil {
		t.Fatal(err)
	}
	if s.HintBacklog() != 2 {
		t.Fatalf("backlog %d, want 2 (one merged hint for b, one for d)", s.HintBacklog())
	}
	hints, err := s.Hints("b", 10)
	if err != nil || len(hints) != 1 || hints[0].Object.Len() != 2 {
		t.Fatalf("hints for b: %+v %v", hints, err)
	}
	// A write merged into the hint after it was read: the delivery must not drop it.
	z := dvv.Object{}.Update("e", dvv.Clock{}, dvv.Sibling{Value: []byte("z")})
	if err := s.StoreHint("b", "ns", []byte("k"), z, false); err != nil {
		t.Fatal(err)
	}
	if err := s.DropHint(hints[0]); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.Hints("b", 10); len(left) != 1 || left[0].Object.Len() != 3 {
		t.Fatalf("a hint that changed after delivery was dropped: %+v", left)
	}
	if err := s.DropHint(func() replica.Hint { h, _ := s.Hints("b", 1); return h[0] }()); err != nil {
		t.Fatal(err)
	}
	if s.HintBacklog() != 1 {
		t.Fatalf("backlog after delivery %d, want 1 (d's)", s.HintBacklog())
	}
	all, _ := s.Hints("", 10)
	if len(all) != 1 || all[0].Owner != "d" {
		t.Fatalf("hints left: %+v", all)
	}
}

func TestHintBacklogIsRecountedOnOpen(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	s, err := replica.New(eng, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	for i := range 3 {
		if err := s.StoreHint("b", "ns", fmt.Appendf(nil, "k%d", i), x, true); err != nil {
			t.Fatal(err)
		}
	}
	again, err := replica.New(eng, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.HintBacklog() != 3 {
		t.Fatalf("backlog after reopening = %d, want 3", again.HintBacklog())
	}
}

// TestGetWithHintsMergesTheKeysHintsOfEveryOwner: a fallback's answer to a
// read is its replica merged with the hints it keeps for that key, whoever
// they are for, and nothing of other keys.
func TestGetWithHintsMergesTheKeysHintsOfEveryOwner(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	k := []byte("k")
	own := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("own")})
	forB := dvv.Object{}.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("for-b")})
	forC := dvv.Object{}.Update("c", dvv.Clock{}, dvv.Sibling{Value: []byte("for-c")})
	other := dvv.Object{}.Update("d", dvv.Clock{}, dvv.Sibling{Value: []byte("other")})

	if got, err := s.GetWithHints("ns", k); err != nil || !got.IsZero() {
		t.Fatalf("nothing stored: %v %v", got.Siblings(), err)
	}
	if _, err := s.Merge("ns", k, own, false); err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct {
		owner, ns, key string
		obj            dvv.Object
	}{
		{"b", "ns", "k", forB},
		{"c", "ns", "k", forC},
		{"a", "ns", "k2", other},     // another key with k as a prefix
		{"b", "ns2", "k", other},     // the same key in another namespace
		{"bb", "ns", "kk", other},    // an owner with b as a prefix
		{"zz", "ns", "k\x00", other}, // a key just after k
	} {
		if err := s.StoreHint(h.owner, h.ns, []byte(h.key), h.obj, false); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetWithHints("ns", k)
	if err != nil {
		t.Fatal(err)
	}
	if want := dvv.Sync(dvv.Sync(own, forB), forC); !got.Equal(want) {
		t.Fatalf("replica with hints = %d siblings %v, want own, for-b and for-c", got.Len(), got.Siblings())
	}
	if plain, _ := s.Get("ns", k); !plain.Equal(own) {
		t.Fatal("Get must answer the replica alone")
	}
}

// TestSlowMergeHoldsUpNoOtherNamespace: while a merge in one namespace
// is stuck in its resolve hook (an on_write resolver that loops until its
// deadline), a write to another namespace's key goes through, even one
// whose hash lands on the same stripe number.
func TestSlowMergeHoldsUpNoOtherNamespace(t *testing.T) {
	t.Parallel()
	s, err := replica.New(memory.New(), 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s.SetResolveHook(func(ns string, _ []byte, _, merged dvv.Object, _ bool) dvv.Object {
		if ns == "slow" {
			close(entered)
			<-release
		}
		return merged
	})
	slowKey := []byte("k")
	other := []byte(nil)
	for i := 0; other == nil; i++ { // a key of "fast" on the same stripe number
		if k := fmt.Appendf(nil, "f%d", i); keys.Hash("fast", k)%1024 == keys.Hash("slow", slowKey)%1024 {
			other = k
		}
	}
	a := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("1")})
	b := dvv.Object{}.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("2")})
	if _, err := s.Merge("slow", slowKey, a, false); err != nil {
		t.Fatal(err)
	}
	merged := make(chan error, 1)
	go func() { _, err := s.Merge("slow", slowKey, b, false); merged <- err }() // two siblings: the hook runs
	<-entered
	done := make(chan error, 1)
	go func() { _, err := s.Merge("fast", other, a, false); done <- err }()
	if err := wait.Within(t.Context(), 10*time.Second, func() bool { return len(done) == 1 }); err != nil {
		t.Errorf("a write to another namespace waited for the stuck merge: %v", err)
	}
	close(release)
	if err := <-merged; err != nil {
		t.Error(err)
	}
}

// syncCounter counts the engine's Syncs.
type syncCounter struct {
	storage.Engine
	syncs int
}

func (e *syncCounter) Sync() error {
	e.syncs++
	return e.Engine.Sync()
}

// TestSyncedMergeOfAnUnchangedObjectSyncs: a synced merge that changes
// nothing still syncs, since the object may have been written unsynced
// before; an unsynced one does not.
func TestSyncedMergeOfAnUnchangedObjectSyncs(t *testing.T) {
	t.Parallel()
	eng := &syncCounter{Engine: memory.New()}
	s, err := replica.New(eng, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
	if _, err := s.Merge("ns", []byte("k"), obj, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge("ns", []byte("k"), obj, false); err != nil || eng.syncs != 0 {
		t.Fatalf("unsynced no-op merge: %d syncs, %v", eng.syncs, err)
	}
	if _, err := s.Merge("ns", []byte("k"), obj, true); err != nil || eng.syncs != 1 {
		t.Errorf("synced no-op merge: %d syncs, %v; want 1", eng.syncs, err)
	}
}
