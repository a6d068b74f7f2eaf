package storagetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/concord-kv/concord/engine/storage"
)

// KV is a key and its value, as read by [Collect].
type KV struct {
	Key, Value string
}

// Collect iterates r over [lower, upper) from the first key and returns the
// pairs it sees, failing t on any error.
func Collect(t testing.TB, r storage.Reader, lower, upper []byte) []KV {
	t.Helper()
	it, err := r.NewIter(lower, upper)
	if err != nil {
		t.Fatalf("NewIter(%q, %q): %v", lower, upper, err)
	}
	var out []KV
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, KV{string(it.Key()), string(it.Value())})
	}
	if err := it.Close(); err != nil {
		t.Fatalf("iterator Close: %v", err)
	}
	return out
}

// apply builds a batch with fill and applies it, failing t on error.
func apply(t testing.TB, e storage.Engine, fill func(b *storage.Batch)) {
	t.Helper()
	var b storage.Batch
	fill(&b)
	if err := e.Apply(&b, storage.WriteOptions{}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// set writes key/value pairs given as alternating strings.
func set(t testing.TB, e storage.Engine, kvs ...string) {
	t.Helper()
	apply(t, e, func(b *storage.Batch) {
		for i := 0; i+1 < len(kvs); i += 2 {
			b.Set([]byte(kvs[i]), []byte(kvs[i+1]))
		}
	})
}

// wantGet checks that Get(key) returns want, or ErrNotFound if want is nil.
func wantGet(t testing.TB, r storage.Reader, key string, want *string) {
	t.Helper()
	got, err := r.Get([]byte(key))
	switch {
	case want == nil && !errors.Is(err, storage.ErrNotFound):
		t.Errorf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	case want != nil && err != nil:
		t.Errorf("Get(%q): %v; want %q", key, err, *want)
	case want != nil && (got == nil || !bytes.Equal(got, []byte(*want))):
		t.Errorf("Get(%q) = %#v; want %q (non-nil)", key, got, *want)
	}
}

func ptr(s string) *string { return &s }

// model applies the same operations as a batch to a plain map, to compute
// expected states.
type model map[string]string

func (m model) apply(b *storage.Batch) {
	for _, op := range b.Ops() {
		switch op.Kind {
		case storage.OpSet:
			m[string(op.Key)] = string(op.Value)
		case storage.OpDelete:
			delete(m, string(op.Key))
		case storage.OpDeleteRange:
			for k := range m {
				if k >= string(op.Key) && k < string(op.End) {
					delete(m, k)
				}
			}
		}
	}
}

// scan returns the model's pairs in [lower, upper) in key order.
func (m model) scan(lower, upper []byte) []KV {
	var out []KV
	for k, v := range m {
		if k >= string(lower) && (upper == nil || k < string(upper)) {
			out = append(out, KV{k, v})
		}
	}
	slices.SortFunc(out, func(a, b KV) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Key returns the fixed-width key of index i ("key-000000000042"), so that
// keys sort like their indexes.
func Key(i int) []byte {
	return AppendKey(make([]byte, 0, 16), i)
}

// AppendKey appends [Key](i) to dst without allocating.
func AppendKey(dst []byte, i int) []byte {
	dst = append(dst, "key-000000000000"...)
	for j := len(dst) - 1; i > 0; j-- {
		dst[j] = byte('0' + i%10)
		i /= 10
	}
	return dst
}
