package keys_test

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"github.com/concord-kv/concord/engine/keys"
)

func TestDataRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.Uint16().Draw(t, "partition")
		ns := rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,62}`).Draw(t, "ns")
		key := rapid.SliceOf(rapid.Byte()).Draw(t, "key")
		gp, gns, gkey, err := keys.ParseData(keys.Data(p, ns, key))
		if err != nil || gp != p || gns != ns || !bytes.Equal(gkey, key) {
			t.Fatalf("round trip: got (%d, %q, %x, %v)", gp, gns, gkey, err)
		}
	})
}

func TestNamespaceRangeHoldsExactlyItsKeys(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.Uint16().Draw(t, "partition")
		ns := rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,8}`).Draw(t, "ns")
		otherP := rapid.Uint16().Draw(t, "otherPartition")
		otherNS := rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,8}`).Draw(t, "otherNS")
		key := rapid.SliceOf(rapid.Byte()).Draw(t, "key")
		lo, hi := keys.NamespaceRange(p, ns)
		k := keys.Data(otherP, otherNS, key)
		in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
		want := otherP == p && otherNS == ns
		if in != want {
			t.Fatalf("key %x in [%x,%x) = %v, want %v", k, lo, hi, in, want)
		}
		plo, phi := keys.PartitionRange(p)
		in = bytes.Compare(k, plo) >= 0 && bytes.Compare(k, phi) < 0
		if in != (otherP == p) {
			t.Fatalf("partition range: key %x in [%x,%x) = %v", k, plo, phi, in)
		}
	})
}

func TestPartitionIsInRangeAndSpreads(t *testing.T) {
	t.Parallel()
	const q = 256
	counts := make([]int, q)
	for i := range 100_000 {
		p := keys.Partition("default", []byte{byte(i), byte(i >> 8), byte(i >> 16)}, q)
		if int(p) >= q {
			t.Fatalf("partition %d out of range", p)
		}
		counts[p]++
	}
	for p, c := range counts {
		// 390 keys expected per partition; a good hash stays well inside ±40%.
		if c < 234 || c > 546 {
			t.Errorf("partition %d got %d keys, want about 390", p, c)
		}
	}
	if got := keys.Partition("a", []byte("b"), 1); got != 0 {
		t.Errorf("q=1: got partition %d", got)
	}
}

func TestParseDataRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, k := range [][]byte{nil, {'d'}, {'m', 0, 0, 'a', 0}, {'d', 0, 1, 'a'}} {
		if _, _, _, err := keys.ParseData(k); err == nil {
			t.Errorf("ParseData(%x) accepted garbage", k)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want []byte }{
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	}
	for _, c := range cases {
		if got := keys.PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

func TestMetaRange(t *testing.T) {
	t.Parallel()
	lo, hi := keys.MetaRange("ns")
	for _, name := range []string{"", "a", "zzz"} {
		k := keys.Meta("ns", name)
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Errorf("meta key %q outside its range", name)
		}
	}
	if k := keys.Meta("nsx", "a"); bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 {
		t.Errorf("another kind's key inside the range")
	}
}

func TestHintRoundTripAndRange(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		owner := rapid.StringMatching(`n[0-9a-f]{1,16}`).Draw(t, "owner")
		other := rapid.StringMatching(`n[0-9a-f]{1,16}`).Draw(t, "other")
		ns := rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,8}`).Draw(t, "ns")
		key := rapid.SliceOf(rapid.Byte()).Draw(t, "key")
		k := keys.Hint(owner, ns, key)
		gOwner, gNS, gKey, err := keys.ParseHint(k)
		if err != nil || gOwner != owner || gNS != ns || !bytes.Equal(gKey, key) {
			t.Fatalf("round trip: (%q, %q, %x, %v)", gOwner, gNS, gKey, err)
		}
		lo, hi := keys.HintRange(other)
		in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
		if in != (owner == other) {
			t.Fatalf("hint of %q in range of %q = %v", owner, other, in)
		}
		alo, ahi := keys.HintRange("")
		if bytes.Compare(k, alo) < 0 || bytes.Compare(k, ahi) >= 0 {
			t.Fatalf("hint outside the all-hints range")
		}
	})
}

// BenchmarkHash is the placement hash of a typical key, computed several
// times per request.
func BenchmarkHash(b *testing.B) {
	key := []byte("user:4242424242")
	b.ReportAllocs()
	for b.Loop() {
		keys.Hash("default", key)
	}
}
