package tictac_test

import (
	"fmt"

	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
)

func ExampleTree() {
	obj, _ := dvv.Object{}.Update("node-a", dvv.Clock{}, dvv.Sibling{Value: []byte("v1")}).MarshalBinary()
	key := []byte("carts\x00alice") // namespace ‖ 0x00 ‖ user key

	// Two replicas get the same write; a third misses it.
	a, b, c := tictac.New(16), tictac.New(16), tictac.New(16)
	a.Update(key, nil, obj)
	b.Update(key, nil, obj)

	fmt.Println("a = b:", a.Equal(b))
	fmt.Println("a vs c differ in the segment of the key:", tictac.Diff(a.Segments(), c.Segments())[0] == a.SegmentOf(key))
	// Output:
	// a = b: true
	// a vs c differ in the segment of the key: true
}
