package dvv_test

import (
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

func TestAllYieldsTheSiblingsInOrder(t *testing.T) {
	var o dvv.Object
	o = o.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("1")})
	o = o.Update("b", dvv.Clock{}, dvv.Sibling{Value: []byte("2")})
	o = o.Update("a", dvv.Clock{}, dvv.Sibling{Tombstone: true})
	want := o.Siblings()
	got := slices.Collect(o.All())
	if len(want) != 3 || !slices.EqualFunc(got, want, func(x, y dvv.Sibling) bool {
		return string(x.Value) == string(y.Value) && x.Tombstone == y.Tombstone
	}) {
		t.Fatalf("All yields %v, Siblings returns %v", got, want)
	}
	n := 0
	for range o.All() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("All went on after the loop stopped: %d", n)
	}
}
