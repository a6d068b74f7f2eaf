package front_test

import (
	"errors"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/front"
	"github.com/concord-kv/concord/engine/replica"
)

// TestCheckQuota: a write that adds a key is refused while the namespace
// is at or over max_keys, one that adds bytes while it is at or over
// max_stored_bytes, with an exhausted LimitError that names the quota and
// the usage and says nothing of retrying; deletes, overwrites that do not
// grow and writes below the quotas pass.
func TestCheckQuota(t *testing.T) {
	t.Parallel()
	key := []byte("k")
	obj := func(values ...string) dvv.Object {
		var o dvv.Object
		for i, v := range values {
			o = o.Update(string(rune('a'+i)), dvv.Clock{}, dvv.Sibling{Value: []byte(v)})
		}
		return o
	}
	deleted := func(o dvv.Object) dvv.Object {
		return o.Update("z", o.Context(), dvv.Sibling{Value: []byte{}, Tombstone: true})
	}
	ns := func(maxKeys, maxBytes uint64) meta.Namespace {
		return meta.Namespace{Name: "q", Limits: meta.Limits{MaxKeys: maxKeys, MaxStoredBytes: maxBytes}}
	}
	for _, tt := range []struct {
		name      string
		ns        meta.Namespace
		used      replica.Usage
		cur, next dvv.Object
		want      *errs.LimitError // nil: the write passes
	}{
		{"no quota", ns(0, 0), replica.Usage{Keys: 1e9, Bytes: 1e12}, dvv.Object{}, obj("v"), nil},
		{"new key below max_keys", ns(10, 0), replica.Usage{Keys: 9}, dvv.Object{}, obj("v"), nil},
		{"new key at max_keys", ns(10, 0), replica.Usage{Keys: 10}, dvv.Object{}, obj("v"),
			&errs.LimitError{Limit: front.LimitMaxKeys, Max: 10, Actual: 10, Exhausted: true}},
		{"new key over max_keys", ns(10, 0), replica.Usage{Keys: 12}, dvv.Object{}, obj("v"),
			&errs.LimitError{Limit: front.LimitMaxKeys, Max: 10, Actual: 12, Exhausted: true}},
		{"a deleted key written again at max_keys", ns(10, 0), replica.Usage{Keys: 10}, deleted(obj("v")), deleted(obj("v")).Update("y", deleted(obj("v")).Context(), dvv.Sibling{Value: []byte("w")}),
			&errs.LimitError{Limit: front.LimitMaxKeys, Max: 10, Actual: 10, Exhausted: true}},
		{"overwrite at max_keys", ns(10, 0), replica.Usage{Keys: 10}, obj("v"), obj("w"), nil},
		{"concurrent sibling at max_keys", ns(10, 0), replica.Usage{Keys: 10}, obj("v"), obj("v", "w"), nil},
		{"delete at max_keys", ns(10, 0), replica.Usage{Keys: 11}, obj("v"), deleted(obj("v")), nil},
		{"growing overwrite below max_stored_bytes", ns(0, 100), replica.Usage{Bytes: 99}, obj("v"), obj("vvvv"), nil},
		{"growing overwrite at max_stored_bytes", ns(0, 100), replica.Usage{Bytes: 100}, obj("v"), obj("vvvv"),
			&errs.LimitError{Limit: front.LimitMaxStoredBytes, Max: 100, Actual: 100, Exhausted: true}},
		{"new sibling over max_stored_bytes", ns(0, 100), replica.Usage{Bytes: 150}, obj("v"), obj("v", "w"),
			&errs.LimitError{Limit: front.LimitMaxStoredBytes, Max: 100, Actual: 150, Exhausted: true}},
		{"shrinking overwrite over max_stored_bytes", ns(0, 100), replica.Usage{Bytes: 150}, obj("vvvv"), obj("v"), nil},
		{"same-size overwrite over max_stored_bytes", ns(0, 100), replica.Usage{Bytes: 150}, obj("v"), obj("w"), nil},
		{"delete over both", ns(10, 100), replica.Usage{Keys: 20, Bytes: 150}, obj("v"), deleted(obj("v")), nil},
		{"new key over both: max_keys first", ns(10, 100), replica.Usage{Keys: 20, Bytes: 150}, dvv.Object{}, obj("v"),
			&errs.LimitError{Limit: front.LimitMaxKeys, Max: 10, Actual: 20, Exhausted: true}},
	} {
		err := front.CheckQuota(tt.ns, tt.used, key, tt.cur, tt.next)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want the write to pass", tt.name, err)
			}
			continue
		}
		var lim *errs.LimitError
		if !errors.As(err, &lim) {
			t.Errorf("%s: %v, want a LimitError", tt.name, err)
			continue
		}
		if lim.Limit != tt.want.Limit || lim.Max != tt.want.Max || lim.Actual != tt.want.Actual || !lim.Exhausted || lim.RetryAfter != 0 || lim.Hint == "" {
			t.Errorf("%s: %+v, want %+v with a hint and no retry delay", tt.name, lim, tt.want)
		}
	}
}
