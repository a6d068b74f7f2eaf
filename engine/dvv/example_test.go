package dvv_test

import (
	"fmt"

	"github.com/concord-kv/concord/engine/dvv"
)

func Example() {
	// Two clients write the same key blindly through two nodes.
	onA := dvv.Object{}.Update("node-a", dvv.Clock{}, dvv.Sibling{Value: []byte("red")})
	onB := dvv.Object{}.Update("node-b", dvv.Clock{}, dvv.Sibling{Value: []byte("blue")})

	// Replication merges the replicas: the writes were concurrent, both stay.
	merged := dvv.Sync(onA, onB)
	for _, s := range merged.Siblings() {
		fmt.Printf("sibling %s\n", s.Value)
	}

	// A client reads both, gets an opaque context, resolves and writes back.
	token := dvv.EncodeContext(merged.Context())
	ctx, err := dvv.DecodeContext(token)
	if err != nil {
		panic(err)
	}
	resolved := merged.Update("node-a", ctx, dvv.Sibling{Value: []byte("purple")})
	for i, s := range resolved.Siblings() {
		fmt.Printf("after resolution: %s at %v, context %v\n", s.Value, resolved.Dots()[i], resolved.Context())
	}

	// A replica that still holds the old siblings converges on the resolution.
	fmt.Println(dvv.Sync(onB, resolved).Equal(resolved))
	// Output:
	// sibling red
	// sibling blue
	// after resolution: purple at node-a:2, context {node-a:2, node-b:1}
	// true
}
