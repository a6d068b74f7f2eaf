package memory_test

import (
	"fmt"

	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func Example() {
	e := memory.New()
	defer e.Close()

	var b storage.Batch
	b.Set([]byte("cart/alice"), []byte("2 apples"))
	b.Set([]byte("cart/bob"), []byte("1 pear"))
	b.Set([]byte("user/alice"), []byte("Alice"))
	if err := e.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		panic(err)
	}

	it, err := e.NewIter([]byte("cart/"), []byte("cart0"))
	if err != nil {
		panic(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Printf("%s = %s\n", it.Key(), it.Value())
	}
	// Output:
	// cart/alice = 2 apples
	// cart/bob = 1 pear
}
