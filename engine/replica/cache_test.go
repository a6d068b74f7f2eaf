package replica_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// TestCacheFollowsEveryWrite: merges, purges (DeleteIfEqual), reads and
// range deletions race on a few keys through a small cache; afterwards
// every key reads what the engine holds.
func TestCacheFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	const q, nkeys = 4, 40
	eng := memory.New()
	s, err := replica.New(eng, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.CacheObjects(testCacheBytes)
	key := func(i int) []byte { return fmt.Appendf(nil, "k%d", i) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 2000 {
				k := key(r.IntN(nkeys))
				var err error
				switch op := r.IntN(10); {
				case op < 5:
					var o dvv.Object
					o = o.Update(fmt.Sprint("n", w), dvv.Clock{}, dvv.Sibling{Value: fmt.Appendf(nil, "%d-%d", w, i), Tombstone: op == 0})
					_, err = s.Merge("ns", k, o, false)
				case op < 7:
					var cur dvv.Object
					if cur, err = s.Get("ns", k); err == nil {
						_, err = s.DeleteIfEqual("ns", k, cur)
					}
				case op < 9:
					_, err = s.Get("ns", k)
				case w == 0:
					p := uint16(r.IntN(q))
					lo, hi := keys.PartitionRange(p)
					err = s.DropRanges([][2][]byte{{lo, hi}}, func() error {
						var b storage.Batch
						b.DeleteRange(lo, hi)
						return eng.Apply(&b, storage.WriteOptions{})
					})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range nkeys {
		got, err := s.Get("ns", key(i))
		if err != nil {
			t.Fatal(err)
		}
		var want dvv.Object
		raw, err := eng.Get(keys.Data(s.Partition("ns", key(i)), "ns", key(i)))
		switch {
		case err == nil:
			if want, err = dvv.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
		case !errors.Is(err, storage.ErrNotFound):
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Errorf("key %d reads %v; the engine holds %v", i, got.Siblings(), want.Siblings())
		}
	}
}

// failingApply is an engine whose Apply, once armed, applies the batch
// and then reports a failure: a write whose outcome the caller cannot
// know (a WAL sync that failed after the memtable took the batch).
type failingApply struct {
	storage.Engine
	armed bool
}

func (f *failingApply) Apply(b *storage.Batch, opts storage.WriteOptions) error {
	if err := f.Engine.Apply(b, opts); err != nil || !f.armed {
		return err
	}
	return fmt.Errorf("%w: sync failed", storage.ErrFailed)
}

// TestCacheForgetsAFailedWrite: after a write the engine reports failed,
// reads answer what the engine holds, not what the cache held before.
func TestCacheForgetsAFailedWrite(t *testing.T) {
	t.Parallel()
	eng := &failingApply{Engine: memory.New()}
	s, err := replica.New(eng, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.CacheObjects(testCacheBytes)
	var one dvv.Object
	one = one.Update("n1", dvv.Clock{}, dvv.Sibling{Value: []byte("one")})
	if _, err := s.Merge("ns", []byte("k"), one, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("ns", []byte("k")); err != nil { // cached
		t.Fatal(err)
	}
	eng.armed = true
	two := one.Update("n1", one.Context(), dvv.Sibling{Value: []byte("two")})
	if _, err := s.Merge("ns", []byte("k"), two, true); err == nil {
		t.Fatal("the failed write reported success")
	}
	got, err := s.Get("ns", []byte("k"))
	if err != nil || !got.Equal(two) {
		t.Fatalf("after a failed write the engine applied: %v %v, want what the engine holds (two)", got.Siblings(), err)
	}
}
