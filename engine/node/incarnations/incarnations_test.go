package incarnations_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/incarnations"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

var (
	live    = meta.StorageName("orders", 2<<32|7) // the current incarnation of orders
	dead    = meta.StorageName("orders", 1<<32|3) // an earlier one, deleted
	unknown = meta.StorageName("carts", 9<<32|1)  // created after the metadata this node holds
)

// namespaces is a fake: orders at its live incarnation; everything else
// unknown but dead.
type namespaces struct{}

func (namespaces) Get(name string) (meta.Namespace, error) {
	if name == "orders" {
		return meta.Namespace{Name: "orders", Incarnation: 2<<32 | 7}, nil
	}
	return meta.Namespace{}, errs.ErrNamespaceNotFound
}

func (namespaces) Fate(storageName string) meta.Fate {
	switch storageName {
	case live:
		return meta.Live
	case dead:
		return meta.Dead
	}
	return meta.Unknown
}

// hints is a fake: the hints dropped, and a backlog.
type hints struct {
	backlog int64
	mu      sync.Mutex
	dropped []replica.Hint
}

func (h *hints) HintBacklog() int64 { return h.backlog }
func (h *hints) DropHint(hint replica.Hint) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped = append(h.dropped, hint)
	return nil
}

func obj(ns string, key string) peer.Object {
	return peer.Object{Namespace: ns, Key: []byte(key), Object: dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte(key)})}
}

func names(objs []peer.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, string(o.Key))
	}
	return out
}

func newKeeper(data storage.Reader, h *hints, del func([][2][]byte) error) *incarnations.Keeper {
	return incarnations.New(incarnations.Config{
		Namespaces: namespaces{}, Data: data, Hints: h, DeleteRanges: del, Partitions: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// TestLiveObjects: objects of live incarnations are kept in order, those
// of dead ones left out (and so acknowledged), and any of an unknown one
// refuses the whole batch with a retryable error.
func TestLiveObjects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      []peer.Object
		want    []string
		unknown bool
	}{
		{"all live", []peer.Object{obj(live, "1"), obj(live, "2")}, []string{"1", "2"}, false},
		{"dead first", []peer.Object{obj(dead, "1"), obj(live, "2"), obj(live, "3")}, []string{"2", "3"}, false},
		{"dead between", []peer.Object{obj(live, "1"), obj(dead, "2"), obj(live, "3"), obj(dead, "4")}, []string{"1", "3"}, false},
		{"all dead", []peer.Object{obj(dead, "1"), obj(dead, "2")}, nil, false},
		{"none", nil, nil, false},
		{"one unknown", []peer.Object{obj(live, "1"), obj(dead, "2"), obj(unknown, "3")}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newKeeper(memory.New(), &hints{}, nil)
			got, err := k.LiveObjects(tc.in)
			if tc.unknown {
				if !errors.Is(err, incarnations.ErrUnknown) || !errors.Is(err, errs.ErrUnavailable) {
					t.Errorf("err = %v, want ErrUnknown, retryable (ErrUnavailable)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names(got), tc.want) {
				t.Errorf("kept %v, want %v", names(got), tc.want)
			}
		})
	}
}

// TestNames: a client's name maps to its live incarnation, and a storage
// namespace back to the namespace only if it is the current incarnation.
func TestNames(t *testing.T) {
	t.Parallel()
	k := newKeeper(memory.New(), &hints{}, nil)
	if got := k.StorageName("orders"); got != live {
		t.Errorf("StorageName(orders) = %q, want %q", got, live)
	}
	if got := k.StorageName("carts"); got != "carts" {
		t.Errorf("StorageName(carts) = %q, want it unchanged", got)
	}
	if !k.Live(live) || k.Live(dead) || k.Live(unknown) {
		t.Errorf("Live: %v %v %v, want only the live incarnation", k.Live(live), k.Live(dead), k.Live(unknown))
	}
	if ns, err := k.Namespace(live); err != nil || ns.Name != "orders" {
		t.Errorf("Namespace(live) = %v, %v", ns, err)
	}
	for _, s := range []string{dead, unknown, "not#a-name"} {
		if _, err := k.Namespace(s); !errors.Is(err, errs.ErrNamespaceNotFound) {
			t.Errorf("Namespace(%q): err = %v, want ErrNamespaceNotFound", s, err)
		}
	}
}

// TestDropDead: the data of a dead incarnation is deleted by namespace
// range in every partition it has data in, and its hints dropped; live
// and unknown incarnations keep theirs.
func TestDropDead(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	var b storage.Batch
	raw, err := obj(live, "v").Object.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for p := range uint16(4) {
		for _, ns := range []string{live, unknown} {
			b.Set(keys.Data(p, ns, []byte("k")), raw)
		}
	}
	for _, p := range []uint16{0, 3} {
		b.Set(keys.Data(p, dead, []byte("k1")), raw)
		b.Set(keys.Data(p, dead, []byte("k2")), raw)
	}
	for _, ns := range []string{live, dead, unknown} {
		b.Set(keys.Hint("b", ns, []byte("h-"+ns)), raw)
	}
	if err := eng.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	var deleted [][2][]byte
	h := &hints{backlog: 3}
	k := newKeeper(eng, h, func(r [][2][]byte) error { deleted = append(deleted, r...); return nil })
	k.DropDead()

	var want [][2][]byte
	for _, p := range []uint16{0, 3} {
		lo, hi := keys.NamespaceRange(p, dead)
		want = append(want, [2][]byte{lo, hi})
	}
	if !slices.EqualFunc(deleted, want, func(a, b [2][]byte) bool { return bytes.Equal(a[0], b[0]) && bytes.Equal(a[1], b[1]) }) {
		t.Errorf("deleted ranges %q, want %q", deleted, want)
	}
	if len(h.dropped) != 1 || h.dropped[0].Namespace != dead || h.dropped[0].Owner != "b" || string(h.dropped[0].Key) != "h-"+dead {
		t.Errorf("hints dropped %+v, want only the dead incarnation's", h.dropped)
	}

	// DropDeadData leaves hints alone, and a failing delete is logged, not fatal.
	deleted, h.dropped = nil, nil
	k = newKeeper(eng, h, func([][2][]byte) error { return errors.New("disk full") })
	k.DropDeadData()
	if len(h.dropped) != 0 {
		t.Errorf("DropDeadData dropped hints %+v", h.dropped)
	}
}

// TestDropDeadWithoutHints: a node without hints does not look for any,
// and one without dead data deletes nothing.
func TestDropDeadWithoutHints(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	var b storage.Batch
	b.Set(keys.Hint("b", dead, []byte("h")), []byte("not even an object"))
	b.Set(keys.Data(1, live, []byte("k")), []byte("x"))
	if err := eng.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	h := &hints{}
	newKeeper(eng, h, func([][2][]byte) error { calls++; return nil }).DropDead()
	if calls != 0 || len(h.dropped) != 0 {
		t.Errorf("DeleteRanges called %d times, hints dropped %v; want neither", calls, h.dropped)
	}
}
