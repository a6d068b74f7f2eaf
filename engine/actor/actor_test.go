package actor_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/dvv"
)

func TestNameParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id, actor string
		seq       uint64
		mine      bool
	}{
		{"n1", "n1", 0, true}, // an actor from before incarnations
		{"n1", actor.Name("n1", 0), 0, true},
		{"n1", actor.Name("n1", 1295), 1295, true},
		{"n1", "n1.", 0, false},
		{"n1", "n1.0z", 0, false},             // not canonical
		{"n1", "n1.ZZ", 0, false},             // not canonical
		{"n1", "n12.5", 0, false},             // another node
		{"n1", "n1.x.5", 0, false},            // another node's shape
		{"n1", "n2", 0, false},                // another node
		{"n1", "n1.10000000000000", 0, false}, // above 2^64
	} {
		seq, mine := actor.Parse(tt.id, tt.actor)
		if seq != tt.seq || mine != tt.mine {
			t.Errorf("Parse(%q, %q) = %d, %v; want %d, %v", tt.id, tt.actor, seq, mine, tt.seq, tt.mine)
		}
	}
	if got := actor.NodeOf(actor.Name("n-1_a", 77)); got != "n-1_a" {
		t.Errorf("NodeOf = %q", got)
	}
}

func TestValidNodeID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{"n0123abcd": true, "node_1-A": true, "": false, "a.b": false, "a b": false, "ü": false, string(make([]byte, 65)): false} {
		if got := actor.ValidNodeID(id); got != want {
			t.Errorf("ValidNodeID(%q) = %v", id, got)
		}
	}
}

func put(v string) dvv.Sibling { return dvv.Sibling{Value: []byte(v)} }

func TestChoose(t *testing.T) {
	t.Parallel()
	a3, a7 := actor.Name("me", 3), actor.Name("me", 7)
	obj := dvv.Object{}.Update(a3, dvv.Clock{}, put("x")).Update("other.1", dvv.Clock{}, put("y"))
	obj = obj.Update(a7, obj.Context(), put("z"))
	for _, tt := range []struct {
		name   string
		floor  uint64
		local  dvv.Object
		seen   dvv.Clock
		want   string
		wantOK bool
	}{
		{"no local copy: mint", 0, dvv.Object{}, dvv.Clock{}, "", false},
		{"newest incarnation", 0, obj, dvv.Clock{}, a7, true},
		{"floor hides the newest", 8, obj, dvv.Clock{}, "", false},
		{"floor between", 5, obj, dvv.Clock{}, a7, true},
		{"seen ahead of local: mint or older", 5, obj, dvv.NewClock(map[string]uint64{a7: 2}), "", false},
		{"seen ahead, older one continues", 0, obj, dvv.NewClock(map[string]uint64{a7: 9}), a3, true},
		{"seen equal", 0, obj, obj.Context(), a7, true},
		{"others' actors only", 0, dvv.Object{}.Update("other.1", dvv.Clock{}, put("y")), dvv.Clock{}, "", false},
	} {
		got, ok := actor.Choose("me", tt.floor, tt.local, tt.seen)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: Choose = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestDotsNeverReissued is the invariant as a property: a node that keeps
// writing a key through any history of losing its local copy (wholly, or
// by getting back an older copy) and of raising its floor as package actor
// prescribes never issues the same dot twice.
func TestDotsNeverReissued(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var (
			local   dvv.Object
			history []dvv.Object // every copy the node ever held
			floor   uint64
			next    uint64
			issued  = map[dvv.Dot]bool{}
		)
		pick := func(seen dvv.Clock) string {
			if a, ok := actor.Choose("me", floor, local, seen); ok {
				return a
			}
			next++
			return actor.Name("me", next-1)
		}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := range steps {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0, 1: // a write, blind or with the context of an older copy
				var ctx dvv.Clock
				if len(history) > 0 && rapid.Bool().Draw(t, "ctx") {
					ctx = history[rapid.IntRange(0, len(history)-1).Draw(t, "read")].Context()
				}
				a := pick(ctx)
				local = local.Update(a, ctx, put(fmt.Sprint(i)))
				d := dvv.Dot{Actor: a, Counter: local.Context().Get(a)}
				if issued[d] {
					t.Fatalf("dot %v issued twice", d)
				}
				issued[d] = true
				history = append(history, local)
			case 2: // the partition is dropped: floor first, then the data
				floor, local = next, dvv.Object{}
			case 3: // an older copy comes back (handoff, anti-entropy)
				if len(history) > 0 {
					local = dvv.Sync(local, history[rapid.IntRange(0, len(history)-1).Draw(t, "old")])
				}
			}
		}
	})
}
