package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/membership/memnet"
)

// Two nodes on an in-memory network: one publishes the ring document, the
// other receives it through gossip and persists it in OnDoc.
func Example() {
	network := memnet.NewNetwork()
	persisted := make(chan membership.Doc, 1)

	a, err := membership.New(membership.Config{
		NodeID:    "a",
		Transport: network.NewTransport("127.0.0.1:7946"),
		Meta:      membership.Meta{PeerAddr: "127.0.0.1:7000", Zone: "z1"},
		Local:     true,
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := membership.New(membership.Config{
		NodeID:    "b",
		Transport: network.NewTransport("127.0.0.2:7946"),
		Meta:      membership.Meta{PeerAddr: "127.0.0.2:7000", Zone: "z2"},
		Local:     true,
		OnDoc:     func(d membership.Doc) { persisted <- d },
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	if _, err := b.Join(context.Background(), []string{a.Addr()}); err != nil {
		panic(err)
	}
	if err := a.Publish(membership.Doc{Name: "ring", Version: 1, Data: []byte("a b")}); err != nil {
		panic(err)
	}
	select {
	case d := <-persisted:
		fmt.Printf("b persisted %s v%d: %s\n", d.Name, d.Version, d.Data)
	case <-time.After(10 * time.Second):
		fmt.Println("timeout")
	}
	for _, m := range b.Members() {
		fmt.Println(m.ID, m.State, m.Meta.Zone)
	}
	// Output:
	// b persisted ring v1: a b
	// a alive z1
	// b alive z2
}
