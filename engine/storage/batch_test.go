package storage_test

import (
	"testing"

	"github.com/concord-kv/concord/engine/storage"
)

func TestBatch(t *testing.T) {
	t.Parallel()
	var b storage.Batch
	if b.Len() != 0 || b.Ops() != nil {
		t.Fatal("zero batch is not empty")
	}
	k, v := []byte("key"), []byte("value")
	b.Set(k, v)
	b.Delete(k)
	b.DeleteRange([]byte("a"), []byte("b"))
	b.Set(nil, nil)
	k[0] = 'X' // the batch holds copies

	want := []struct {
		kind            storage.OpKind
		key, value, end string
	}{
		{storage.OpSet, "key", "value", ""},
		{storage.OpDelete, "key", "", ""},
		{storage.OpDeleteRange, "a", "", "b"},
		{storage.OpSet, "", "", ""},
	}
	ops := b.Ops()
	if len(ops) != len(want) || b.Len() != len(want) {
		t.Fatalf("%d ops, want %d", len(ops), len(want))
	}
	for i, w := range want {
		op := ops[i]
		if op.Kind != w.kind || string(op.Key) != w.key || string(op.Value) != w.value || string(op.End) != w.end {
			t.Errorf("op %d = %v %q %q %q, want %v %q %q %q", i, op.Kind, op.Key, op.Value, op.End, w.kind, w.key, w.value, w.end)
		}
	}
	if op := ops[3]; op.Key == nil || op.Value == nil {
		t.Error("empty key and value must be non-nil")
	}
	// Appending to one copy must not overwrite its neighbour.
	_ = append(ops[0].Key, "!!!!!!"...)
	if string(ops[0].Value) != "value" {
		t.Errorf("append to a key overwrote the value: %q", ops[0].Value)
	}
	if b.Size() != len("key"+"value"+"key"+"a"+"b") {
		t.Errorf("Size = %d", b.Size())
	}
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 {
		t.Errorf("after Reset: Len %d, Size %d", b.Len(), b.Size())
	}
	var nilBatch *storage.Batch
	if nilBatch.Len() != 0 || nilBatch.Ops() != nil || nilBatch.Size() != 0 {
		t.Error("nil batch is not empty")
	}
}

func TestOpKindString(t *testing.T) {
	t.Parallel()
	for kind, want := range map[storage.OpKind]string{
		storage.OpSet: "set", storage.OpDelete: "delete", storage.OpDeleteRange: "delete-range", 9: "OpKind(9)",
	} {
		if got := kind.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", kind, got, want)
		}
	}
}
