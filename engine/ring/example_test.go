package ring_test

import (
	"fmt"

	"github.com/concord-kv/concord/engine/ring"
)

func Example() {
	members := []ring.Member{
		{ID: "node-a", Zone: "eu-1a"}, {ID: "node-b", Zone: "eu-1b"},
		{ID: "node-c", Zone: "eu-1c"}, {ID: "node-d", Zone: "eu-1d"},
	}
	r, err := ring.New(64, members, 3)
	if err != nil {
		panic(err)
	}
	fmt.Println("epoch", r.Epoch(), "counts", r.Counts())

	// A fifth node joins: stage the next ring and look at the plan.
	next, err := ring.Rebalance(r, append(members, ring.Member{ID: "node-e", Zone: "eu-1a"}), 3)
	if err != nil {
		panic(err)
	}
	plan := ring.Plan(r, next)
	fmt.Println("epoch", next.Epoch(), "counts", next.Counts())
	toE := 0
	for _, t := range plan {
		if t.To == "node-e" {
			toE++
		}
	}
	// A few more than node-e's 12 move: zones are kept apart too.
	fmt.Println(len(plan), "partitions move,", toE, "of them to node-e")

	// The replicas of partition 10 are n distinct consecutive owners.
	fmt.Println(len(next.PreferenceList(10, 3)), "replicas")
	// Output:
	// epoch 1 counts map[node-a:16 node-b:16 node-c:16 node-d:16]
	// epoch 2 counts map[node-a:13 node-b:13 node-c:13 node-d:13 node-e:12]
	// 15 partitions move, 12 of them to node-e
	// 3 replicas
}
