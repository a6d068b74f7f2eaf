package aae_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/concord-kv/concord/engine/aae"
	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
)

// memReplica is an in-memory replica of one partition: a map of
// per-partition keys to encoded objects, with its tree kept up to date on
// every change, as a node keeps it in its write path.
type memReplica struct {
	actor string // node ID used for local writes

	mu     sync.Mutex
	tree   *tictac.Tree
	objs   map[string][]byte
	frozen bool  // Merge computes but stores nothing (benchmarks)
	fail   error // returned by every method when set
	merged int   // objects received through Merge
}

var _ aae.Replica = (*memReplica)(nil)

func newMem(actor string, segments int) *memReplica {
	return &memReplica{actor: actor, tree: tictac.New(segments), objs: make(map[string][]byte)}
}

// tester is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// key builds a per-partition key.
func key(ns, k string) string { return ns + "\x00" + k }

func encode(tb tester, o dvv.Object) []byte {
	tb.Helper()
	b, err := o.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// store replaces the object of k, as the node's write path does, updating
// the tree with the old and new bytes.
func (m *memReplica) store(k string, raw []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.storeLocked(k, raw)
}

func (m *memReplica) storeLocked(k string, raw []byte) {
	m.tree.Update([]byte(k), m.objs[k], raw)
	if raw == nil {
		delete(m.objs, k)
		return
	}
	m.objs[k] = raw
}

func (m *memReplica) get(tb tester, k string) dvv.Object {
	tb.Helper()
	m.mu.Lock()
	raw, ok := m.objs[k]
	m.mu.Unlock()
	if !ok {
		return dvv.Object{}
	}
	o, err := dvv.Unmarshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// write is a client write coordinated by this replica: with the current
// context (it supersedes what is there) or blind (it becomes a sibling).
func (m *memReplica) write(tb tester, k, value string, blind bool) {
	tb.Helper()
	cur := m.get(tb, k)
	ctx := cur.Context()
	if blind {
		ctx = dvv.Clock{}
	}
	m.store(k, encode(tb, cur.Update(m.actor, ctx, dvv.Sibling{Value: []byte(value)})))
}

// remove writes a tombstone that supersedes the current object.
func (m *memReplica) remove(tb tester, k string) {
	tb.Helper()
	cur := m.get(tb, k)
	m.store(k, encode(tb, cur.Update(m.actor, cur.Context(), dvv.Sibling{Tombstone: true})))
}

// snapshot returns a copy of the stored objects.
func (m *memReplica) snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.objs)
}

func (m *memReplica) Segments(ctx context.Context, _ int) ([]uint64, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.tree.Segments(), nil
}

func (m *memReplica) Objects(ctx context.Context, _ int, segments []int) ([]aae.KeyObject, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []aae.KeyObject
	for k, raw := range m.objs {
		if _, ok := slices.BinarySearch(segments, m.tree.SegmentOf([]byte(k))); ok {
			out = append(out, aae.KeyObject{Key: []byte(k), Object: raw})
		}
	}
	// A storage scan returns keys in order.
	slices.SortFunc(out, func(x, y aae.KeyObject) int { return bytes.Compare(x.Key, y.Key) })
	return out, nil
}

func (m *memReplica) Merge(ctx context.Context, _ int, objs []aae.KeyObject) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range objs {
		in, err := dvv.Unmarshal(o.Object)
		if err != nil {
			return err
		}
		cur := dvv.Object{}
		if raw, ok := m.objs[string(o.Key)]; ok {
			if cur, err = dvv.Unmarshal(raw); err != nil {
				return err
			}
		}
		enc, _ := dvv.Sync(cur, in).MarshalBinary()
		m.merged++
		if !m.frozen {
			m.storeLocked(string(o.Key), enc)
		}
	}
	return nil
}

func (m *memReplica) check(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	return ctx.Err()
}

// treeOf builds a fresh tree from stored objects, as a node does from a
// storage scan at start.
func treeOf(segments int, objs map[string][]byte) *tictac.Tree {
	t := tictac.New(segments)
	for k, raw := range objs {
		t.Update([]byte(k), nil, raw)
	}
	return t
}

// assertConverged fails unless a and b hold the same objects and the same
// trees, and each tree matches its data.
func assertConverged(tb tester, a, b *memReplica) {
	tb.Helper()
	sa, sb := a.snapshot(), b.snapshot()
	if !maps.EqualFunc(sa, sb, slices.Equal) {
		tb.Fatalf("objects differ: a has %d keys, b has %d", len(sa), len(sb))
	}
	if !a.tree.Equal(b.tree) {
		tb.Fatalf("trees differ in segments %v", tictac.Diff(a.tree.Segments(), b.tree.Segments()))
	}
	if !a.tree.Equal(treeOf(a.tree.Len(), sa)) {
		tb.Fatal("a's tree does not match its data")
	}
}

// assertMerged fails unless every key of a0 or b0 now holds, on both sides,
// the Sync of its two original objects.
func assertMerged(tb tester, a0, b0 map[string][]byte, a *memReplica) {
	tb.Helper()
	for k := range joinKeys(a0, b0) {
		want := dvv.Sync(decodeOr(tb, a0[k]), decodeOr(tb, b0[k]))
		if got := a.get(tb, k); !got.Equal(want) {
			tb.Fatalf("key %q: got dots %v, want %v", k, got.Dots(), want.Dots())
		}
	}
}

func joinKeys(a, b map[string][]byte) map[string]struct{} {
	out := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

func decodeOr(tb tester, raw []byte) dvv.Object {
	tb.Helper()
	if raw == nil {
		return dvv.Object{}
	}
	o, err := dvv.Unmarshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}
