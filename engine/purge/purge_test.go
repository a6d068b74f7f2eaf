package purge_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/purge"
)

func put(o dvv.Object, actor string, s dvv.Sibling) dvv.Object {
	return o.Update(actor, o.Context(), s)
}

var (
	live      = put(dvv.Object{}, "a", dvv.Sibling{Value: []byte("v"), Timestamp: 10})
	tomb      = put(live, "a", dvv.Sibling{Tombstone: true, Timestamp: 50})
	tombLater = put(live, "a", dvv.Sibling{Tombstone: true, Timestamp: 150})
	// tombB is the same delete coordinated elsewhere: equal content, other dots.
	tombB = put(live, "b", dvv.Sibling{Tombstone: true, Timestamp: 50})
	// twoTombs holds two concurrent deletes: tombstones only.
	twoTombs = dvv.Sync(tomb, tombB)
	// tombAndLive holds a delete and a concurrent write.
	tombAndLive = dvv.Sync(tomb, put(live, "c", dvv.Sibling{Value: []byte("w"), Timestamp: 40}))
)

// answer is one replica's reply; unreachable when obj is nil.
type answer struct {
	from string
	obj  *dvv.Object
}

func holds(id string, o dvv.Object) answer { return answer{id, &o} }
func down(id string) answer                { return answer{from: id} }

func TestDecision(t *testing.T) {
	t.Parallel()
	rule := purge.Rule{Cutoff: 100}
	abc := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name    string
		rule    purge.Rule
		obj     dvv.Object
		pref    []string
		answers []answer
		asked   []string // replicas the check asked for, in order
		want    purge.Verdict
	}{
		{name: "every replica holds the same tombstone", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", tomb), holds("c", tomb)}, asked: []string{"b", "c"}, want: purge.Purge},
		{name: "concurrent deletes only", rule: rule, obj: twoTombs, pref: abc,
			answers: []answer{holds("b", twoTombs), holds("c", twoTombs)}, asked: []string{"b", "c"}, want: purge.Purge},
		{name: "a single replica decides alone", rule: rule, obj: tomb, pref: []string{"a"}, want: purge.Purge},
		{name: "a live value is never purged", rule: rule, obj: live, pref: abc, want: purge.Live},
		{name: "a delete beside a concurrent write", rule: rule, obj: tombAndLive, pref: abc, want: purge.Live},
		{name: "a tombstone newer than the cutoff", rule: rule, obj: tombLater, pref: abc, want: purge.Recent},
		{name: "a tombstone at the cutoff is old enough", rule: purge.Rule{Cutoff: 50}, obj: tomb, pref: abc,
			answers: []answer{holds("b", tomb), holds("c", tomb)}, asked: []string{"b", "c"}, want: purge.Purge},
		{name: "nothing while partitions move", rule: purge.Rule{Cutoff: 100, Moving: true}, obj: tomb, pref: abc, want: purge.Moving},
		{name: "a replica down stops the asking", rule: rule, obj: tomb, pref: abc,
			answers: []answer{down("b"), holds("c", tomb)}, asked: []string{"b"}, want: purge.Unreachable},
		{name: "the last replica down", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", tomb), down("c")}, asked: []string{"b", "c"}, want: purge.Unreachable},
		{name: "a replica that missed the delete", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", live), holds("c", tomb)}, asked: []string{"b"}, want: purge.Differs},
		{name: "a replica with the same content under other dots", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", tomb), holds("c", tombB)}, asked: []string{"b", "c"}, want: purge.Differs},
		{name: "a replica that has seen more", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", twoTombs)}, asked: []string{"b"}, want: purge.Differs},
		{name: "a replica that does not have the key", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("b", dvv.Object{})}, asked: []string{"b"}, want: purge.Differs},
		{name: "self need not come first in the list", rule: rule, obj: tomb, pref: []string{"b", "a", "c"},
			answers: []answer{holds("b", tomb), holds("c", tomb)}, asked: []string{"b", "c"}, want: purge.Purge},
		{name: "answers out of turn are ignored", rule: rule, obj: tomb, pref: abc,
			answers: []answer{holds("c", live), down("c"), holds("b", tomb), holds("c", tomb)}, asked: []string{"b", "b", "b", "c"}, want: purge.Purge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.rule.Check(tc.obj, tc.pref, "a")
			var asked []string
			for _, a := range tc.answers {
				next, ok := c.Next()
				if !ok {
					break
				}
				asked = append(asked, next)
				if a.obj == nil {
					c.Unreachable(a.from)
				} else {
					c.Answer(a.from, *a.obj)
				}
			}
			if next, ok := c.Next(); ok {
				t.Fatalf("still asking %s after every answer", next)
			}
			if c.Verdict() != tc.want || !slices.Equal(asked, tc.asked) {
				t.Fatalf("verdict %v after asking %v, want %v after asking %v", c.Verdict(), asked, tc.want, tc.asked)
			}
		})
	}
}

func TestCandidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule purge.Rule
		obj  dvv.Object
		want purge.Verdict
	}{
		{purge.Rule{Cutoff: 100}, tomb, purge.Ask},
		{purge.Rule{Cutoff: 100}, dvv.Object{}, purge.Ask}, // nothing left of the key: nothing to keep
		{purge.Rule{Cutoff: 100}, live, purge.Live},
		{purge.Rule{Cutoff: 49}, tomb, purge.Recent},
		{purge.Rule{Cutoff: 100, Moving: true}, live, purge.Moving},
	} {
		if got := tc.rule.Candidate(tc.obj); got != tc.want {
			t.Errorf("%+v.Candidate(%v) = %v, want %v", tc.rule, tc.obj.Siblings(), got, tc.want)
		}
	}
}

func TestPurger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pref []string
		self string
		want bool
	}{
		{[]string{"a", "b", "c"}, "a", true},
		{[]string{"a", "b", "c"}, "b", false},
		{[]string{"a", "b", "c"}, "d", false},
		{nil, "a", false},
	} {
		if got := purge.Purger(tc.pref, tc.self); got != tc.want {
			t.Errorf("Purger(%v, %s) = %v, want %v", tc.pref, tc.self, got, tc.want)
		}
	}
}

func Example() {
	rule := purge.Rule{Cutoff: 100} // now minus the grace period
	deleted := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Tombstone: true, Timestamp: 50})

	c := rule.Check(deleted, []string{"a", "b", "c"}, "a")
	for id, ok := c.Next(); ok; id, ok = c.Next() {
		fmt.Println("ask", id)
		c.Answer(id, deleted) // both hold the same tombstone
	}
	fmt.Println(c.Verdict())
	// Output:
	// ask b
	// ask c
	// purge
}
