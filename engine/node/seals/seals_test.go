package seals_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/node/seals"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func open(t *testing.T, eng storage.Engine) *seals.Keys {
	t.Helper()
	k, err := seals.Open(eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	key = []byte("k")
	obj = dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte("v")})
)

// TestOwnKeyIsKept: the key made on first open is the one a reopen loads:
// a context sealed before opens after, with the clock it was sealed with;
// a fresh store makes another key, which does not open it.
func TestOwnKeyIsKept(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	tok := open(t, eng).Seal("ns", key, obj)

	c, err := open(t, eng).Open("ns", key, tok)
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if !c.Equal(obj.Context()) {
		t.Errorf("opened clock %v, want %v", c, obj.Context())
	}
	if _, err := open(t, memory.New()).Open("ns", key, tok); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("another store's keys: err = %v, want ErrUnavailable (a key not heard of)", err)
	}
}

// TestContextIsBound: a context opens only for the storage namespace and
// key it was sealed for, and a damaged one is invalid.
func TestContextIsBound(t *testing.T) {
	t.Parallel()
	k := open(t, memory.New())
	tok := k.Seal("ns", key, obj)
	damaged := append([]byte(nil), tok...)
	damaged[len(damaged)-1] ^= 1
	for _, tc := range []struct {
		name string
		ns   string
		key  []byte
		tok  []byte
	}{
		{"other namespace", "ns#2", key, tok},
		{"other key", "ns", []byte("x"), tok},
		{"damaged", "ns", key, damaged},
		{"garbage", "ns", key, []byte("garbage")},
	} {
		var inv *errs.InvalidError
		if _, err := k.Open(tc.ns, tc.key, tc.tok); !errors.As(err, &inv) || inv.Field != "context" {
			t.Errorf("%s: err = %v, want an InvalidError of the context", tc.name, err)
		}
	}
}

// TestLearnsOtherNodesKeys: a context another node sealed is unavailable
// (retry) until its key arrives as a document; then it opens, also after
// a reopen before gossip repeats the document.
func TestLearnsOtherNodesKeys(t *testing.T) {
	t.Parallel()
	other := open(t, memory.New())
	tok := other.Seal("ns", key, obj)

	eng := memory.New()
	k := open(t, eng)
	if _, err := k.Open("ns", key, tok); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("before the document: err = %v, want ErrUnavailable", err)
	}
	docs := other.Docs()
	if len(docs) != 1 {
		t.Fatalf("other node's docs: %v, want its one key", docs)
	}
	if !k.OnDoc(docs[0]) {
		t.Fatal("a sealing-key document not taken as one")
	}
	if _, err := k.Open("ns", key, tok); err != nil {
		t.Fatalf("after the document: %v", err)
	}
	if len(k.Docs()) != 2 {
		t.Errorf("docs after learning a key: %d, want 2", len(k.Docs()))
	}
	if _, err := open(t, eng).Open("ns", key, tok); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

// TestBadDocuments: a document that is not a sealing key is not taken as
// one, and a sealing-key document whose key is malformed or does not
// match its name is refused: its contexts stay unknown.
func TestBadDocuments(t *testing.T) {
	t.Parallel()
	other := open(t, memory.New())
	tok := other.Seal("ns", key, obj)
	good := other.Docs()[0]
	otherKey := ctxseal.NewKey()
	for _, tc := range []struct {
		name   string
		doc    membership.Doc
		isSeal bool
	}{
		{"not a seal", membership.Doc{Name: "ns/orders", Version: 1, Data: good.Data}, false},
		{"short key", membership.Doc{Name: good.Name, Version: 1, Data: good.Data[:len(good.Data)-1]}, true},
		{"name of another key", membership.Doc{Name: "seal/" + ctxseal.IDOf(otherKey).String(), Version: 1, Data: good.Data}, true},
		{"key of another name", membership.Doc{Name: good.Name, Version: 1, Data: otherKey}, true},
	} {
		k := open(t, memory.New())
		if got := k.OnDoc(tc.doc); got != tc.isSeal {
			t.Errorf("%s: OnDoc = %v, want %v", tc.name, got, tc.isSeal)
		}
		if _, err := k.Open("ns", key, tok); !errors.Is(err, errs.ErrUnavailable) {
			t.Errorf("%s: err = %v, want the sealing key still unknown", tc.name, err)
		}
		if len(k.Docs()) != 1 {
			t.Errorf("%s: %d keys known, want only its own", tc.name, len(k.Docs()))
		}
	}
}
