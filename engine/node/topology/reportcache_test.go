package topology

import (
	"encoding/json"
	"testing"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
)

// TestReportCache: a handoff document is decoded again when its data
// changes, and not when it does not; data that does not decode is no
// report.
func TestReportCache(t *testing.T) {
	t.Parallel()
	doc := func(keys int) membership.Doc {
		raw, err := json.Marshal(handoff.Report{Epoch: 7, Transfers: []handoff.Progress{{Partition: 3, Keys: uint64(keys)}}})
		if err != nil {
			t.Fatal(err)
		}
		return membership.Doc{Name: docHandoff + "n1", Version: uint64(keys), Data: raw}
	}
	var c reportCache
	keysOf := func(d membership.Doc) uint64 {
		t.Helper()
		r, ok := c.decode(d)
		if !ok || r.Epoch != 7 || len(r.Transfers) != 1 {
			t.Fatalf("decode %s: %+v %v", d.Data, r, ok)
		}
		return r.Transfers[0].Keys
	}
	first := doc(10)
	if got := keysOf(first); got != 10 {
		t.Fatalf("first report: %d keys, want 10", got)
	}
	cached := c.byName[first.Name].report.Transfers
	if keysOf(doc(10)); &c.byName[first.Name].report.Transfers[0] != &cached[0] {
		t.Error("the same data was decoded again")
	}
	if got := keysOf(doc(20)); got != 20 {
		t.Fatalf("after the document changed: %d keys, want 20 (a stale report)", got)
	}
	if _, ok := c.decode(membership.Doc{Name: first.Name, Data: []byte("{")}); ok {
		t.Error("data that does not decode gave a report")
	}
}
