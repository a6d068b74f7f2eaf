package server_test

import (
	"bytes"
	"testing"

	"connectrpc.com/connect"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

func TestGetOfMissingKeyIsNotFoundWithAContext(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		got := c.get(t, ns, "missing")
		if got.GetFound() || len(got.GetSiblings()) != 0 {
			t.Errorf("Get of a missing key: found=%v siblings=%d, want found=false and none", got.GetFound(), len(got.GetSiblings()))
		}
		if len(got.GetContext()) == 0 {
			t.Error("Get of a missing key returned an empty context")
		}
		if got.GetReplies() != 1 {
			t.Errorf("replies %d, want 1", got.GetReplies())
		}
	})
}

func TestPutAndGetRoundTripTheValue(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		value := []byte("hello\x00\xffworld") // not valid UTF-8: bytes survive JSON too
		put := c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: value})
		got := c.get(t, ns, "k")
		if !got.GetFound() || len(got.GetSiblings()) != 1 || !bytes.Equal(got.GetSiblings()[0].GetValue(), value) {
			t.Fatalf("Get after Put: %v, want found with the one value %q", got, value)
		}
		if s := got.GetSiblings()[0]; s.GetTombstone() || s.GetWrittenAt().AsTime().IsZero() {
			t.Errorf("sibling %v: want a live value with written_at set", s)
		}
		if !bytes.Equal(put.GetContext(), got.GetContext()) {
			t.Errorf("Put context %x, Get context %x: want the same", put.GetContext(), got.GetContext())
		}
	})
}

func TestPutReturnsTheNewContextAndOnRequestTheSiblings(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		first := c.blindPut(t, "k", "a")
		if len(first.GetContext()) == 0 {
			t.Fatal("Put returned an empty context")
		}
		if len(first.GetSiblings()) != 0 {
			t.Errorf("Put without return_siblings returned %d siblings", len(first.GetSiblings()))
		}
		second := c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("b"), ReturnSiblings: true})
		if bytes.Equal(first.GetContext(), second.GetContext()) {
			t.Error("two Puts returned the same context")
		}
		got := c.get(t, ns, "k")
		wantValues(t, "Put with return_siblings", second.GetSiblings(), "a", "b")
		wantProtoEqual(t, "Put siblings vs Get siblings", &kvv1.GetResponse{Siblings: second.GetSiblings()}, &kvv1.GetResponse{Siblings: got.GetSiblings()})
		if !bytes.Equal(second.GetContext(), got.GetContext()) {
			t.Errorf("Put context %x, Get context %x: want the same", second.GetContext(), got.GetContext())
		}
	})
}

func TestPutWithTheContextOfAGetReplacesWhatTheGetSaw(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "k", "a")
		c.blindPut(t, "k", "b")
		read := c.get(t, ns, "k")
		wantValues(t, "two blind Puts", read.GetSiblings(), "a", "b")

		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("merged"), Context: read.GetContext()})
		wantValues(t, "Put with the read's context", c.get(t, ns, "k").GetSiblings(), "merged")
	})
}

func TestPutWithTheContextOfAMissingKeyCreatesOneSibling(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		read := c.get(t, ns, "k")
		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("a"), Context: read.GetContext()})
		wantValues(t, "Put with the context of a missing key", c.get(t, ns, "k").GetSiblings(), "a")
	})
}

func TestBlindPutAddsASibling(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "k", "a")
		c.blindPut(t, "k", "b")
		c.blindPut(t, "k", "c")
		wantValues(t, "three blind Puts", c.get(t, ns, "k").GetSiblings(), "a", "b", "c")
	})
}

func TestPutWithAStaleContextAddsASibling(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		stale := c.blindPut(t, "k", "v1").GetContext()
		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v2"), Context: stale})
		wantValues(t, "Put with the current context", c.get(t, ns, "k").GetSiblings(), "v2")

		// v2 was written after the stale context was read: a writer holding
		// it has not seen v2, so v2 survives as a sibling.
		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v3"), Context: stale})
		wantValues(t, "Put with a stale context", c.get(t, ns, "k").GetSiblings(), "v2", "v3")
	})
}

// TestPutWithOverwriteReplacesWhatTheNodeHolds: a blind Put adds a
// sibling; an overwriting one replaces every version the node holds, and
// its context covers them, so a later stale write is the only sibling left
// beside it.
func TestPutWithOverwriteReplacesWhatTheNodeHolds(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		stale := c.blindPut(t, "k", "v1").GetContext()
		c.blindPut(t, "k", "v2")
		wantValues(t, "two blind Puts", c.get(t, ns, "k").GetSiblings(), "v1", "v2")

		over := c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v3"), Overwrite: true})
		got := c.get(t, ns, "k")
		wantValues(t, "Put with overwrite", got.GetSiblings(), "v3")
		if !bytes.Equal(got.GetContext(), over.GetContext()) {
			t.Errorf("Get after an overwrite: context %x, want the Put's %x", got.GetContext(), over.GetContext())
		}

		// A writer that read before the overwrite has not seen v3: its
		// write is concurrent with it, and both stay.
		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v4"), Context: stale})
		wantValues(t, "Put with a context older than the overwrite", c.get(t, ns, "k").GetSiblings(), "v3", "v4")
	})
}

func TestDeleteWithAContextWritesACausalTombstone(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "k", "a")
		read := c.get(t, ns, "k")
		del, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("k"), Context: read.GetContext()})
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		after := c.get(t, ns, "k")
		if after.GetFound() || len(after.GetSiblings()) != 0 {
			t.Fatalf("Get after Delete: found=%v siblings=%d, want found=false and none", after.GetFound(), len(after.GetSiblings()))
		}
		if !bytes.Equal(after.GetContext(), del.GetContext()) {
			t.Errorf("Get after Delete: context %x, want the tombstone's %x", after.GetContext(), del.GetContext())
		}
		if bytes.Equal(after.GetContext(), read.GetContext()) {
			t.Error("the tombstone's context is the context the Delete was given: it records nothing")
		}

		c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("again"), Context: after.GetContext()})
		wantValues(t, "Put with the tombstone's context", c.get(t, ns, "k").GetSiblings(), "again")
	})
}

func TestDeleteWithAStaleContextKeepsConcurrentWrites(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "k", "seen")
		read := c.get(t, ns, "k")
		c.blindPut(t, "k", "unseen")
		if _, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("k"), Context: read.GetContext()}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		got := c.get(t, ns, "k")
		if !got.GetFound() {
			t.Error("a Delete removed a value its context had not seen")
		}
		wantValues(t, "Delete with a stale context", got.GetSiblings(), "unseen")
	})
}

// TestDeleteWithoutContextNeedsForce: a Delete must say what it removes (the
// context of a read) or that it removes whatever is stored (force). A forced
// Delete on a node that holds the key leaves it not found.
func TestDeleteWithoutContextNeedsForce(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "k", "a")
		before := c.get(t, ns, "k")

		_, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("k")})
		wantError(t, err, connect.CodeInvalidArgument, "context", "force")
		wantProtoEqual(t, "Get after a refused Delete", c.get(t, ns, "k"), before)

		del, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("k"), Force: true})
		if err != nil {
			t.Fatalf("Delete with force: %v", err)
		}
		got := c.get(t, ns, "k")
		if got.GetFound() {
			t.Errorf("Get after a forced Delete: found, siblings %q; want not found (the tombstone must cover what the node stored)", values(got.GetSiblings()))
		}
		if !bytes.Equal(got.GetContext(), del.GetContext()) {
			t.Errorf("Get after a forced Delete: context %x, want the tombstone's %x", got.GetContext(), del.GetContext())
		}
	})
}

func TestPutIfAbsent(t *testing.T) {
	t.Parallel()
	ifAbsent := func(key, value string) *kvv1.PutRequest {
		return &kvv1.PutRequest{Namespace: ns, Key: []byte(key), Value: []byte(value), IfAbsent: true}
	}
	forEachProtocol(t, func(t *testing.T, c *client) {
		t.Run("SucceedsWhenTheKeyIsAbsent", func(t *testing.T) {
			c.put(t, ifAbsent("absent", "a"))
			wantValues(t, "if_absent on an absent key", c.get(t, ns, "absent").GetSiblings(), "a")
		})
		t.Run("FailsWithAlreadyExistsWhenALiveValueExists", func(t *testing.T) {
			c.blindPut(t, "live", "a")
			before := c.get(t, ns, "live")
			_, err := c.kv.Put(t.Context(), ifAbsent("live", "b"))
			wantError(t, err, connect.CodeAlreadyExists, "if_absent")
			wantProtoEqual(t, "Get after a refused if_absent Put", c.get(t, ns, "live"), before)
		})
		t.Run("SucceedsWhenTheKeyWasDeleted", func(t *testing.T) {
			written := c.blindPut(t, "deleted", "a")
			if _, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("deleted"), Context: written.GetContext()}); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			c.put(t, ifAbsent("deleted", "b"))
			wantValues(t, "if_absent on a deleted key", c.get(t, ns, "deleted").GetSiblings(), "b")
		})
	})
}

func TestPutIfContextCurrent(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		t.Run("SucceedsWhenTheContextIsCurrent", func(t *testing.T) {
			c.blindPut(t, "current", "a")
			read := c.get(t, ns, "current")
			c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("current"), Value: []byte("b"), Context: read.GetContext(), IfContextCurrent: true})
			wantValues(t, "if_context_current with the current context", c.get(t, ns, "current").GetSiblings(), "b")
		})
		t.Run("SucceedsOnAMissingKeyWithItsContext", func(t *testing.T) {
			read := c.get(t, ns, "missing")
			c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("missing"), Value: []byte("a"), Context: read.GetContext(), IfContextCurrent: true})
			wantValues(t, "if_context_current on a missing key", c.get(t, ns, "missing").GetSiblings(), "a")
		})
		t.Run("FailsWithTheCurrentStateWhenTheKeyChanged", func(t *testing.T) {
			stale := c.blindPut(t, "changed", "a").GetContext()
			c.blindPut(t, "changed", "b")
			current := c.get(t, ns, "changed")

			_, err := c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("changed"), Value: []byte("c"), Context: stale, IfContextCurrent: true})
			ce := wantError(t, err, connect.CodeFailedPrecondition, "if_context_current")
			conflict := detail[*kvv1.ContextConflict](t, ce)
			wantProtoEqual(t, "ContextConflict detail", conflict, &kvv1.ContextConflict{Siblings: current.GetSiblings(), Context: current.GetContext()})
			wantProtoEqual(t, "Get after a refused if_context_current Put", c.get(t, ns, "changed"), current)

			// The detail is what a client needs to retry without another read.
			c.put(t, &kvv1.PutRequest{Namespace: ns, Key: []byte("changed"), Value: []byte("c"), Context: conflict.GetContext(), IfContextCurrent: true})
			wantValues(t, "retry with the detail's context", c.get(t, ns, "changed").GetSiblings(), "c")
		})
	})
}
