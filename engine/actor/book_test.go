package actor_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
	"github.com/concord-kv/concord/engine/storage/pebble"
)

func mint(t *testing.T, b *actor.Book, p uint16) string {
	t.Helper()
	a, err := b.Pick(p, dvv.Object{}, dvv.Clock{}, true)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBookMintsNewIncarnationsAcrossRestarts(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	seen := map[string]bool{}
	for round := range 3 {
		b, err := actor.Open(eng, "me", 4)
		if err != nil {
			t.Fatal(err)
		}
		for range 1500 { // more than one lease block
			a := mint(t, b, 0)
			if seen[a] {
				t.Fatalf("round %d: %s minted twice", round, a)
			}
			seen[a] = true
		}
		if round%2 == 0 { // clean and unclean restarts alike
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestBookContinuesAnIncarnation(t *testing.T) {
	t.Parallel()
	b, err := actor.Open(memory.New(), "me", 4)
	if err != nil {
		t.Fatal(err)
	}
	a := mint(t, b, 1)
	obj := dvv.Object{}.Update(a, dvv.Clock{}, put("v"))
	if got, err := b.Pick(1, obj, dvv.Clock{}, true); err != nil || got != a {
		t.Fatalf("Pick = %q, %v; want %q", got, err, a)
	}
}

func TestDeleteForgettingRaisesTheFloor(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	b, err := actor.Open(eng, "me", 4)
	if err != nil {
		t.Fatal(err)
	}
	a := mint(t, b, 2)
	obj := dvv.Object{}.Update(a, dvv.Clock{}, put("v"))
	var batch storage.Batch
	lo, hi := keys.PartitionRange(2)
	batch.DeleteRange(lo, hi)
	if err := b.DeleteForgetting(&batch, []uint16{2}); err != nil {
		t.Fatal(err)
	}
	if got := mint(t, b, 3); got == a {
		t.Fatal("minted an old incarnation")
	}
	// The partition got an older copy back: its incarnation is not continued.
	if got, _ := b.Pick(2, obj, dvv.Clock{}, true); got == a {
		t.Fatalf("continued %s after the partition was dropped", a)
	}
	// Another partition keeps its incarnations.
	if got, _ := b.Pick(3, obj, dvv.Clock{}, true); got != a {
		t.Fatalf("partition 3 should continue %s, got %s", a, got)
	}
	// The floor survives a clean restart.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := actor.Open(eng, "me", 4)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b2.Pick(2, obj, dvv.Clock{}, true); got == a {
		t.Fatalf("continued %s after a restart", a)
	}
	if got, _ := b2.Pick(3, obj, dvv.Clock{}, true); got != a {
		t.Fatalf("a clean restart must keep incarnations: got %s, want %s", got, a)
	}
}

// TestUncleanStart runs the book on Pebble's crashable filesystem: after a
// crash (no Close), an incarnation that issued dots in unsynced writes is
// not continued, since the crash may have lost some of them; after a crash
// that followed only synced dots, incarnations are kept.
func TestUncleanStart(t *testing.T) {
	t.Parallel()
	for _, synced := range []bool{false, true} {
		fs := vfs.NewCrashableMem()
		eng, err := pebble.Open("db", pebble.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		b, err := actor.Open(eng, "me", 4)
		if err != nil {
			t.Fatal(err)
		}
		a, err := b.Pick(0, dvv.Object{}, dvv.Clock{}, synced)
		if err != nil {
			t.Fatal(err)
		}
		obj := dvv.Object{}.Update(a, dvv.Clock{}, put("v"))
		crashed := fs.CrashClone(vfs.CrashCloneCfg{})
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
		eng2, err := pebble.Open("db", pebble.Options{FS: crashed})
		if err != nil {
			t.Fatal(err)
		}
		b2, err := actor.Open(eng2, "me", 4)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b2.Pick(0, obj, dvv.Clock{}, true)
		if err != nil {
			t.Fatal(err)
		}
		if continued := got == a; continued != synced {
			t.Errorf("synced dots %v: continued %s after a crash: %v", synced, a, continued)
		}
		if err := eng2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
