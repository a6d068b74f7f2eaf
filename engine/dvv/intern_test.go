package dvv

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestDecodingSharesActorStrings(t *testing.T) {
	var o Object
	o = o.Update("node-7.3", Clock{}, Sibling{Value: []byte("v")})
	enc, _ := o.MarshalBinary()
	a, err := Unmarshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Unmarshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	x, y := a.entries[0].actor, b.entries[0].actor
	if x != "node-7.3" || unsafe.StringData(x) != unsafe.StringData(y) {
		t.Fatalf("two decodings of actor %q got %q at %p and %q at %p: want one shared string", "node-7.3", x, unsafe.StringData(x), y, unsafe.StringData(y))
	}
}

func TestInternedActorsAreBounded(t *testing.T) {
	for i := range maxInterned + 10 {
		want := fmt.Sprintf("bound-%d.1", i)
		if got := internActor([]byte(want)); got != want {
			t.Fatalf("internActor(%q) = %q", want, got)
		}
	}
	if n := len(*interned.table.Load()); n != maxInterned {
		t.Fatalf("the table holds %d actors, want the bound %d", n, maxInterned)
	}
}
