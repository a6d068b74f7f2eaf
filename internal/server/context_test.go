package server_test

import (
	"bytes"
	"fmt"
	"testing"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestForgedContextsAreRefusedAndTheKeyStaysUsable is the regression test
// of issue 8, defect 3: blind Puts whose contexts name thousands of invented actors
// grew the key's clock until every real context of the key was refused as
// too large. Contexts are sealed now: a forged one is refused with
// invalid_argument, nothing of it reaches the key, and the key keeps
// working with the contexts concord hands out.
func TestForgedContextsAreRefusedAndTheKeyStaysUsable(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "victim", "v1")
		for round := range 3 {
			actors := map[string]uint64{}
			for i := range 1500 { // about 12 KiB: under any size limit
				actors[fmt.Sprintf("%c%04d", 'a'+round, i)] = 1
			}
			forged := dvv.EncodeContext(dvv.NewClock(actors))
			_, err := c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("victim"), Value: []byte("x"), Context: forged})
			wantError(t, err, connect.CodeInvalidArgument, "context")
		}
		got := c.get(t, ns, "victim")
		wantValues(t, "after the forgeries", got.GetSiblings(), "v1")
		if len(got.GetContext()) > 200 {
			t.Errorf("the key's context is %d bytes: forged actors reached its clock", len(got.GetContext()))
		}
		// A context sealed for another key is refused too.
		other := c.blindPut(t, "other", "o")
		_, err := c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("victim"), Value: []byte("x"), Context: other.GetContext()})
		wantError(t, err, connect.CodeInvalidArgument, "context")
		// A changed byte of a real context is refused.
		tampered := bytes.Clone(got.GetContext())
		tampered[len(tampered)/2] ^= 0x40
		_, err = c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("victim"), Value: []byte("x"), Context: tampered})
		wantError(t, err, connect.CodeInvalidArgument, "context")

		// The real context still works: a causal write, then a causal delete.
		put := c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("victim"), Value: []byte("v2"), Context: got.GetContext()})
		wantValues(t, "after a causal write", c.get(t, ns, "victim").GetSiblings(), "v2")
		if _, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("victim"), Context: put.GetContext()}); err != nil {
			t.Fatalf("causal delete: %v", err)
		}
		if c.get(t, ns, "victim").GetFound() {
			t.Error("the key survived its causal delete")
		}
	})
}
