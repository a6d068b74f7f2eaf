package aae_test

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/engine/aae"
)

func ExampleExchange() {
	// Two in-memory replicas (see fake_test.go), each with a write the other
	// missed.
	a, b := newMem("node-a", 16), newMem("node-b", 16)
	a.write(panicker{}, key("carts", "alice"), "book", false)
	b.write(panicker{}, key("carts", "bob"), "pen", false)

	st, err := aae.Exchange(context.Background(), 0, a, b, aae.ExchangeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("keys compared %d, sent to a %d, sent to b %d\n", st.Keys, st.KeysRepairedA, st.KeysRepairedB)
	fmt.Println("converged:", a.tree.Equal(b.tree))
	// Output:
	// keys compared 2, sent to a 1, sent to b 1
	// converged: true
}

// panicker is a tester for examples.
type panicker struct{}

func (panicker) Helper()                           {}
func (panicker) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicker) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
