// Command shopping-cart shows what a namespace resolver buys an application:
// two shoppers change the same cart on both sides of a network partition,
// and once the network heals every replica holds one merged cart, merged by
// the shopping-cart resolver on the servers, not by the clients.
//
// It runs a three-node concord cluster in this process (the test harness,
// whose network can be partitioned) and talks to it over Connect like any
// client would:
//
//	go run ./examples/shopping-cart
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	"github.com/concord-kv/concord/internal/wait"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shopping-cart:", err)
		os.Exit(1)
	}
}

// Cart is the shopping-cart resolver's value: per item, the add tags with
// the quantity each set, and the tags of removed adds. An item is in the
// cart while it has a tag that was not removed, so a removal wins over the
// adds it saw, and an add it did not see (a concurrent one) survives.
type Cart struct {
	Items   map[string]map[string]int `json:"items"`
	Removed []string                  `json:"removed"`
}

// Add adds qty of an item under a fresh tag.
func (c *Cart) Add(item, tag string, qty int) {
	if c.Items[item] == nil {
		c.Items[item] = map[string]int{}
	}
	c.Items[item][tag] = qty
}

// Remove removes an item: every add of it this cart has seen.
func (c *Cart) Remove(item string) {
	for tag := range c.Items[item] {
		c.Removed = append(c.Removed, tag)
	}
	delete(c.Items, item)
}

// String lists the items with their quantities.
func (c Cart) String() string {
	var out []string
	for item, tags := range c.Items {
		qty := 0
		for _, q := range tags {
			qty = max(qty, q)
		}
		out = append(out, fmt.Sprintf("%s×%d", item, qty))
	}
	slices.Sort(out)
	return "{" + strings.Join(out, ", ") + "}"
}

// shopper reads, changes and writes back a cart through one node.
type shopper struct {
	name string
	kv   kvv1connect.KVServiceClient
	rw   uint32 // replies and acknowledgements to wait for
}

// change does one read-modify-write with the read's context.
func (s shopper) change(ctx context.Context, key string, edit func(*Cart)) error {
	res, err := s.kv.Get(ctx, &kvv1.GetRequest{Namespace: "carts", Key: []byte(key), R: s.rw})
	if err != nil {
		return err
	}
	cart := Cart{Items: map[string]map[string]int{}, Removed: []string{}}
	if len(res.GetSiblings()) > 0 {
		if err := json.Unmarshal(res.GetSiblings()[0].GetValue(), &cart); err != nil {
			return err
		}
	}
	edit(&cart)
	value, err := json.Marshal(cart)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, &kvv1.PutRequest{Namespace: "carts", Key: []byte(key), Value: value, Context: res.GetContext(), W: s.rw})
	return err
}

func (s shopper) cart(ctx context.Context, key string) (Cart, int, error) {
	r := uint32(1)
	res, err := s.kv.Get(ctx, &kvv1.GetRequest{Namespace: "carts", Key: []byte(key), R: r})
	if err != nil || len(res.GetSiblings()) == 0 {
		return Cart{}, 0, err
	}
	var c Cart
	err = json.Unmarshal(res.GetSiblings()[0].GetValue(), &c)
	return c, len(res.GetSiblings()), err
}

func run(ctx context.Context, out io.Writer) (err error) {
	env := &harness{}
	defer env.close()
	defer env.recover(&err)
	fmt.Fprintln(out, "starting a 3-node cluster (N=3, W=2)")
	c := clustertest.Start(env, clustertest.Options{HintInterval: time.Hour}) // anti-entropy alone will heal

	admin := adminv1connect.NewAdminServiceClient(testcred.HTTPClient, c.Nodes[0].API)
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "carts"}); err != nil {
		return err
	}
	up, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{
		Namespace: "carts", Source: &adminv1.UploadResolverRequest_Builtin{Builtin: "shopping-cart"},
		Mode: adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "namespace carts: resolver %s, on_write\n", up.GetNamespace().GetResolver().GetName())
	if err := waitFor(ctx, func() bool {
		for _, n := range c.Nodes {
			if ns, err := n.Node().Namespace("carts"); err != nil || ns.Resolver == nil {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}

	alice := shopper{"alice", c.Nodes[0].KV(), 2}
	bob := shopper{"bob", c.Nodes[2].KV(), 1} // alone on his side: R=W=1 is all he can get
	const key = "cart:42"
	if err := alice.change(ctx, key, func(c *Cart) { c.Add("milk", "alice-1", 1) }); err != nil {
		return err
	}
	fmt.Fprintln(out, "alice adds milk; both shoppers see the cart")
	if err := waitFor(ctx, func() bool { c, _, _ := bob.cart(ctx, key); return len(c.Items) == 1 }); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nthe network splits: nodes 1 and 2 | node 3")
	c.Partition([]int{0, 1}, []int{2})
	if err := alice.change(ctx, key, func(c *Cart) { c.Remove("milk"); c.Add("apples", "alice-2", 3) }); err != nil {
		return err
	}
	if err := bob.change(ctx, key, func(c *Cart) { c.Add("pears", "bob-1", 2) }); err != nil {
		return err
	}
	ac, _, _ := alice.cart(ctx, key)
	bc, _, _ := bob.cart(ctx, key)
	fmt.Fprintf(out, "alice removes milk and adds apples: she sees %v\n", ac)
	fmt.Fprintf(out, "bob adds pears:                     he sees %v\n", bc)

	fmt.Fprintln(out, "\nthe network heals; anti-entropy meets the two versions on the servers")
	c.Heal()
	want := "{apples×3, pears×2}"
	if err := waitFor(ctx, func() bool {
		for _, n := range c.Nodes {
			got, siblings, err := shopper{kv: n.KV()}.cart(ctx, key)
			if err != nil || siblings != 1 || got.String() != want {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the cart did not converge to %s: %w", want, err)
	}
	for i, n := range c.Nodes {
		got, siblings, _ := shopper{kv: n.KV()}.cart(ctx, key)
		fmt.Fprintf(out, "node %d: %v (%d version)\n", i+1, got, siblings)
	}
	fmt.Fprintln(out, "one merged cart everywhere: the removal of milk held, both adds survived")
	return nil
}

func waitFor(ctx context.Context, cond func() bool) error { return wait.Within(ctx, time.Minute, cond) }

// harness gives the cluster harness what it needs outside a test.
type harness struct {
	dirs     []string
	cleanups []func()
}

type fatal struct{ msg string }

func (h *harness) Helper() {}

func (h *harness) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }

func (h *harness) TempDir() string {
	dir, err := os.MkdirTemp("", "shopping-cart-")
	if err != nil {
		h.Fatalf("%v", err)
	}
	h.dirs = append(h.dirs, dir)
	return dir
}

func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }

func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	for _, d := range h.dirs {
		_ = os.RemoveAll(d)
	}
}

func (h *harness) recover(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(fatal)
		if !ok {
			panic(r)
		}
		*err = errors.New(f.msg)
	}
}
