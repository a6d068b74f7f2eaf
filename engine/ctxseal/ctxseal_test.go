package ctxseal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
)

func keyring(t *testing.T) *ctxseal.Keyring {
	t.Helper()
	k, err := ctxseal.New(ctxseal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	a, b := keyring(t), keyring(t)
	c := dvv.NewClock(map[string]uint64{"n1.0": 3, "n2.5": 1})
	tok := a.Seal("carts", []byte("k"), c)

	if got, err := a.Open("carts", []byte("k"), tok); err != nil || !got.Equal(c) {
		t.Fatalf("Open = %v, %v", got, err)
	}
	if _, err := b.Open("carts", []byte("k"), tok); !errors.Is(err, ctxseal.ErrUnknownKey) {
		t.Fatalf("another cluster's node: %v, want ErrUnknownKey", err)
	}
	_, own := a.Own()
	if !b.Add(own) || b.Add(own) {
		t.Fatal("Add reports new keys once")
	}
	if got, err := b.Open("carts", []byte("k"), tok); err != nil || !got.Equal(c) {
		t.Fatalf("after learning the key: %v, %v", got, err)
	}
	if got, err := a.Open("carts", nil, nil); err != nil || !got.IsZero() {
		t.Fatalf("an empty token is a blind write: %v, %v", got, err)
	}
}

func TestForgeriesAreRefused(t *testing.T) {
	t.Parallel()
	k := keyring(t)
	c := dvv.NewClock(map[string]uint64{"n1.0": 3})
	tok := k.Seal("carts", []byte("k"), c)
	flip := func(i int) []byte {
		f := bytes.Clone(tok)
		f[i] ^= 1
		return f
	}
	forged := dvv.EncodeContext(dvv.NewClock(map[string]uint64{"evil": 1 << 40}))
	for name, tt := range map[string]struct {
		ns  string
		key string
		tok []byte
	}{
		"another key":               {"carts", "k2", tok},
		"another namespace":         {"carts2", "k", tok},
		"a changed clock":           {"carts", "k", flip(12)},
		"a changed tag":             {"carts", "k", flip(len(tok) - 1)},
		"an unsealed dvv context":   {"carts", "k", forged},
		"a truncated token":         {"carts", "k", tok[:len(tok)-1]},
		"a token of another format": {"carts", "k", append([]byte{1}, tok[1:]...)},
	} {
		if _, err := k.Open(tt.ns, []byte(tt.key), tt.tok); !errors.Is(err, ctxseal.ErrForged) {
			t.Errorf("%s: err = %v, want ErrForged", name, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := ctxseal.New(bytes.Repeat([]byte{7}, ctxseal.KeyLen))
	f.Add(k.Seal("ns", []byte("k"), dvv.NewClock(map[string]uint64{"a": 1})))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, tok []byte) {
		c, err := k.Open("ns", []byte("k"), tok)
		if err == nil && len(tok) > 0 && !bytes.Equal(k.Seal("ns", []byte("k"), c), tok) {
			t.Fatalf("accepted a token that is not the seal of its clock: %x", tok)
		}
	})
}
