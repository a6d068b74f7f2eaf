package laws_test

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/resolvers/laws"
)

// Before activating an uploaded module for a namespace, the server checks it
// on the uploader's sample values and refuses it if replicas could diverge.
// (The module here is testdata/merges.wat, whose config "F" makes it return
// the first sibling: the result depends on sibling order.)
func ExampleCheck() {
	ctx := context.Background()
	samples := []laws.Sample{[]byte("apple"), []byte("b"), []byte("kiwi")}
	report, err := laws.Check(ctx, rt, merges, samples, laws.Options{Namespace: "carts", Config: []byte("F"), MaxInputs: 8})
	if err != nil {
		panic(err) // the context ended, or the runtime was closed
	}
	if report.Refused() {
		fmt.Print(report)
	}
	// Output:
	// refused: order-insensitivity failed (8 sibling sets tried)
	// passed: abi, determinism, idempotence, associativity
	// order-insensitivity violated (refuses the upload)
	//   input: ["kiwi" @2024-01-01T00:00:02Z, "apple" @2024-01-01T00:00:01Z]
	//   in this order the merge is OK "kiwi"; in the order [1 0] of the same siblings (indices into the input) it is OK "apple"
}
