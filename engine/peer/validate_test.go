package peer_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/peer"
	peerv1 "github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1"
	"github.com/concord-kv/concord/engine/peer/internal/peerpb/concord/peer/v1/peerv1connect"
)

// smallPolicy knows one live namespace, "small", of 1 KiB values and
// 16-byte keys, and a ring of nodes a and b.
type smallPolicy struct{}

func (smallPolicy) Limits(ns string) (meta.Limits, bool) {
	if ns != "small" {
		return meta.Limits{}, false
	}
	return meta.Limits{MaxValueBytes: 1 << 10, MaxKeyBytes: 16, MaxSiblings: 10}, true
}

func (smallPolicy) RingMember(id string) bool { return id == "a" || id == "b" }

func servePolicy(t *testing.T, l peer.Local) *peer.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, smallPolicy{}))
	addr, _ := serve(t, mux)
	return clientTo(t, addr, nil)
}

// TestHandlerRefusesAbuse: what the client API would refuse, a peer cannot
// store either; the node is never asked.
func TestHandlerRefusesAbuse(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	live := peer.Object{Namespace: "small", Key: []byte("k"), Object: value("a", "v")}
	l.put(0, live)
	c := servePolicy(t, l)
	ctx := t.Context()
	big := peer.Object{Namespace: "small", Key: []byte("k"), Object: value("x", strings.Repeat("v", 5<<10))}
	for _, tt := range []struct {
		name  string
		call  func() error
		field string // of the InvalidError, or the limit of the LimitError
	}{
		{"a value above the namespace's limit", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{big}, true, "")
			return err
		}, "max_value_bytes"},
		{"a hint of a value above the limit", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{big}, true, "b")
			return err
		}, "max_value_bytes"},
		{"a key above the namespace's limit", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "small", Key: bytes.Repeat([]byte("k"), 17), Object: value("x", "v")}}, true, "")
			return err
		}, "max_key_bytes"},
		{"an empty key", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "small", Object: value("x", "v")}}, true, "")
			return err
		}, "key"},
		{"a malformed namespace", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "no\x00such#x", Key: []byte("k"), Object: value("x", "v")}}, true, "")
			return err
		}, "namespace"},
		{"hints for a node outside the ring", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "small", Key: []byte("k"), Object: value("x", "v")}}, true, "invented")
			return err
		}, "intended_owner"},
		{"a value above the ceiling in a namespace not live here", func() error {
			_, err := c.Replicate(ctx, "other", []peer.Object{{Namespace: "other", Key: []byte("k"), Object: value("x", strings.Repeat("v", meta.CeilingValueSize+1))}}, true, "")
			return err
		}, "max_value_bytes"},
		{"a purge of a live value", func() error {
			_, err := c.Purge(ctx, "other", []peer.Object{live})
			return err
		}, "objects"},
		{"a purge of the zero object", func() error {
			_, err := c.Purge(ctx, "other", []peer.Object{{Namespace: "small", Key: []byte("k")}})
			return err
		}, "objects"},
		{"a read of an oversized key", func() error {
			_, err := c.Read(ctx, "other", "small", bytes.Repeat([]byte("k"), 17))
			return err
		}, "max_key_bytes"},
		{"a module hash that is not one", func() error {
			_, err := c.FetchModule(ctx, "other", "../../etc/passwd")
			return err
		}, "sha256"},
		{"a transfer of a malformed namespace", func() error {
			tr := c.Transfer(ctx, "other", peer.TransferRequest{Namespace: "bad name"})
			defer tr.Close()
			for tr.Next() {
			}
			return tr.Err()
		}, "namespace"},
	} {
		err := tt.call()
		var inv *errs.InvalidError
		var lim *errs.LimitError
		switch {
		case errors.As(err, &inv):
			if inv.Field != tt.field {
				t.Errorf("%s: refused on %q (%v), want %q", tt.name, inv.Field, err, tt.field)
			}
		case errors.As(err, &lim):
			if lim.Limit != tt.field {
				t.Errorf("%s: refused on %q (%v), want %q", tt.name, lim.Limit, err, tt.field)
			}
		default:
			t.Errorf("%s: got %v, want an invalid argument or a limit error", tt.name, err)
		}
	}
	applied, coord, _, transfers := l.calls()
	if len(applied)+len(coord)+len(transfers) != 0 {
		t.Errorf("the node was asked: %d applies, %d coordinates, %d transfers", len(applied), len(coord), len(transfers))
	}
	if got, _ := c.Read(ctx, "other", "small", []byte("k")); !got.Equal(live.Object) {
		t.Errorf("the live value changed: %v", got.Siblings())
	}
}

// TestHandlerAcceptsWhatItShould: within the limits, objects of
// namespaces this node does not know as live (the node decides about
// them), hints for ring members and purges of tombstones reach the node.
func TestHandlerAcceptsWhatItShould(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	c := servePolicy(t, l)
	ctx := t.Context()
	objs := []peer.Object{
		{Namespace: "small", Key: []byte("k"), Object: value("x", strings.Repeat("v", 1<<10))},
		{Namespace: "unknown#00000000000000a1", Key: bytes.Repeat([]byte("k"), 100), Object: value("x", strings.Repeat("v", 4<<10))},
	}
	if _, err := c.Replicate(ctx, "other", objs, true, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Purge(ctx, "other", []peer.Object{{Namespace: "small", Key: []byte("k"), Object: tombstone("x")}}); err != nil {
		t.Fatal(err)
	}
	if applied, _, _, _ := l.calls(); len(applied) != 1 {
		t.Fatalf("applied %d batches, want 1", len(applied))
	}
}

// TestRequestSizeLimit: a body above MaxRequestBytes is refused before it
// is read whole, and the client splits a large batch so that it travels.
func TestRequestSizeLimit(t *testing.T) {
	t.Parallel()
	l := newMemLocal()
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(t, mux)
	hc := peer.NewPlaintextClient(nil)
	t.Cleanup(hc.CloseIdleConnections)

	huge := make([]byte, peer.MaxRequestBytes+1)
	raw := peerv1connect.NewPeerServiceClient(hc, "http://"+addr)
	_, err := raw.Replicate(t.Context(), &peerv1.ReplicateRequest{Objects: []*peerv1.KeyObject{{Namespace: "default", Key: []byte("k"), Object: huge}}})
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("a %d-byte request: got %v, want resource_exhausted", len(huge), err)
	}

	c := clientTo(t, addr, nil)
	var batch []peer.Object
	for i := range 6 { // 6 × 16 MiB: above the limit together
		v := bytes.Repeat([]byte{byte('a' + i)}, meta.CeilingValueSize)
		batch = append(batch, peer.Object{Namespace: "default", Key: []byte{byte('a' + i)}, Object: dvv.Object{}.Update("x", dvv.Clock{}, dvv.Sibling{Value: v})})
	}
	if _, err := c.Replicate(t.Context(), "other", batch, true, ""); err != nil {
		t.Fatal(err)
	}
	applied, _, _, _ := l.calls()
	n := 0
	for _, a := range applied {
		n += len(a.objs)
	}
	if len(applied) < 2 || n != len(batch) {
		t.Errorf("%d objects in %d requests, want %d in several", n, len(applied), len(batch))
	}
}
