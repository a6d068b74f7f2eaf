package resolvers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// A node compiles a namespace's module once, keeps a pool per namespace, and
// resolves siblings through it. (The module here is testdata/longest.wat.)
func Example() {
	ctx := context.Background()
	rt, err := resolvers.NewRuntime(ctx, resolvers.Options{})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	module, err := rt.Compile(ctx, modules["longest"])
	if err != nil {
		panic(err) // a *resolvers.ModuleError: tell the uploader why
	}
	pool := resolvers.NewPool(module, "cart", nil, resolvers.Limits{Deadline: 50 * time.Millisecond})
	defer pool.Close(ctx)

	res, err := pool.Resolve(ctx, abi.Input{
		Key: []byte("user:42"),
		Siblings: []abi.Sibling{
			{Value: []byte("apple"), Timestamp: 1},
			{Value: []byte("banana"), Timestamp: 2},
			{Tombstone: true, Timestamp: 3},
		},
	})
	if err != nil {
		panic(err) // a *resolvers.CallError or ErrBreakerOpen: keep the siblings
	}
	fmt.Println(res.Status, string(res.Value))
	// Output: OK banana
}
