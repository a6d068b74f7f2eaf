package concord_test

import (
	"context"
	"fmt"
	"strings"

	concord "github.com/concord-kv/concord/sdk/go"
)

// A read-merge-write: Update hands the siblings to the merge function and
// writes its result with the read's context, so it replaces exactly what
// was merged.
func ExampleClient_Update() {
	c := concord.New("http://127.0.0.1:7700", concord.WithNamespace("carts"))
	_, err := c.Update(context.Background(), []byte("cart:42"), func(siblings [][]byte) ([]byte, error) {
		items := map[string]bool{"apples": true}
		for _, s := range siblings {
			for _, item := range strings.Split(string(s), ",") {
				if item != "" {
					items[item] = true
				}
			}
		}
		var out []string
		for item := range items {
			out = append(out, item)
		}
		return []byte(strings.Join(out, ",")), nil
	})
	if err != nil {
		fmt.Println(err)
	}
}

// A client that sends each call to the first node of its key's preference
// list, falling back to the other endpoints when a node cannot be reached.
func ExampleWithRouting() {
	c := concord.New("http://10.0.0.1:7700",
		concord.WithEndpoints("http://10.0.0.2:7700", "http://10.0.0.3:7700"),
		concord.WithRouting())
	obj, err := c.Get(context.Background(), []byte("cart:42"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(obj.Found)
}
