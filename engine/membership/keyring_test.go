package membership_test

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/membership"
)

var (
	keyA = bytes.Repeat([]byte{0xa}, 32)
	keyB = bytes.Repeat([]byte{0xb}, 16)
)

// TestGossipKeyKeepsOthersOut: with gossip encrypted, a node with another
// key or none cannot join, and the members never see it.
func TestGossipKeyKeepsOthersOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		keys := [][]byte{keyA, keyA, keyB, nil}
		c := newCluster(t, len(keys), func(i int, cfg *membership.Config) { cfg.SecretKey = keys[i] })
		if _, err := c.nodes[1].Join(t.Context(), c.addrs(c.nodes[0])); err != nil {
			t.Fatalf("a node with the key: %v", err)
		}
		for _, n := range c.nodes[2:] {
			if got, err := n.Join(t.Context(), c.addrs(c.nodes[0])); err == nil || got != 0 {
				t.Errorf("%s (key %x) joined %d nodes, err %v; want refused", n.LocalID(), keys[2:], got, err)
			}
		}
		time.Sleep(20 * time.Second) // gossip rounds in which a stranger could slip in
		c.waitAlive(c.nodes[:2], 2, 10*time.Second)
		for _, n := range c.nodes[:2] {
			for _, stranger := range []string{"n3", "n4"} {
				if _, ok := n.Member(stranger); ok {
					t.Errorf("%s knows %s", n.LocalID(), stranger)
				}
			}
		}
	})
}

// TestGossipKeyRotation: in the middle of a rotation (some nodes encrypt
// with the new key, some still with the old, each holding both) the
// cluster stays one.
func TestGossipKeyRotation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3, func(i int, cfg *membership.Config) {
			if i == 0 {
				cfg.SecretKey, cfg.SecondaryKeys = keyA, [][]byte{keyB}
			} else {
				cfg.SecretKey, cfg.SecondaryKeys = keyB, [][]byte{keyA}
			}
		})
		c.joinAll()
	})
}
