package purger_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/node/purger"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/ring"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// topology is a fake: every partition is replicated on a, b and c, in
// that order.
type topology struct {
	r      ring.Ring
	self   string
	down   map[string]bool
	moving bool
}

func (t topology) Self() string                                 { return t.self }
func (t topology) Ring() (ring.Ring, bool)                      { return t.r, true }
func (t topology) Alive(id string) bool                         { return !t.down[id] }
func (t topology) HandoffN() int                                { return 3 }
func (t topology) Replicas(uint16, int) ([]string, []string)    { return []string{"a", "b", "c"}, nil }
func (t topology) Handoffs() (uint64, []handoff.Progress, bool) { return 1, nil, !t.moving }

// peers is a fake: each replica holds its own copy of every key.
type peers struct {
	mu     sync.Mutex
	copies map[string]map[string]dvv.Object // node → key → object
	purged map[string][]string              // node → keys purged there
}

func (p *peers) Read(_ context.Context, to, _ string, key []byte) (dvv.Object, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.copies[to][string(key)], nil
}

func (p *peers) Purge(_ context.Context, to string, objs []peer.Object) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range objs {
		p.purged[to] = append(p.purged[to], string(o.Key))
	}
	return len(objs), nil
}

var (
	now   = time.Unix(1_000_000, 0)
	grace = time.Hour
)

func tombstone(age time.Duration) dvv.Object {
	live := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte("v"), Timestamp: now.Add(-2 * age).UnixNano()})
	return live.Update("a.1", live.Context(), dvv.Sibling{Value: []byte{}, Tombstone: true, Timestamp: now.Add(-age).UnixNano()})
}

// TestPurgeFollowsTheDecision: the first replica purges an old tombstone
// every replica holds, from the others first and then here; it keeps a
// tombstone that is too young, one a replica holds differently, one
// another replica cannot be asked about, and a live value; and it purges
// nothing while partitions move.
func TestPurgeFollowsTheDecision(t *testing.T) {
	t.Parallel()
	r, err := ring.New(4, []ring.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	self, others := "a", []string{"b", "c"}

	old, young := tombstone(2*grace), tombstone(grace/2)
	differs := tombstone(3 * grace)
	live := dvv.Object{}.Update("a.1", dvv.Clock{}, dvv.Sibling{Value: []byte("v"), Timestamp: now.Add(-3 * grace).UnixNano()})
	local := map[string]dvv.Object{"old": old, "young": young, "differs": differs, "live": live, "unasked": old}

	for _, moving := range []bool{true, false} {
		eng := memory.New()
		rs, err := replica.New(eng, r.Q(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, o := range local {
			if _, err := rs.Merge("default", []byte(k), o, false); err != nil {
				t.Fatal(err)
			}
		}
		ps := &peers{copies: map[string]map[string]dvv.Object{}, purged: map[string][]string{}}
		for _, id := range others {
			ps.copies[id] = map[string]dvv.Object{"old": old, "young": young, "differs": tombstone(4 * grace), "live": live, "unasked": old}
		}
		delete(ps.copies[others[1]], "unasked") // that replica lost it: not the same object
		p := purger.New(purger.Config{
			Data: eng, Store: rs, Peers: ps, Grace: grace, Interval: time.Minute,
			Topology: topology{r: r, self: self, moving: moving},
			Now:      func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		p.Round(t.Context())

		want := map[string]bool{"young": true, "differs": true, "live": true, "unasked": true, "old": moving}
		for k := range local {
			o, err := rs.Get("default", []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			if kept := !o.IsZero(); kept != want[k] {
				t.Errorf("moving=%v: %q kept=%v, want %v", moving, k, kept, want[k])
			}
		}
		wantPurged, wantRounds := 1, int64(1)
		if moving {
			wantPurged, wantRounds = 0, 0
		}
		for _, id := range others {
			if len(ps.purged[id]) != wantPurged {
				t.Errorf("moving=%v: purged on %s: %v", moving, id, ps.purged[id])
			}
		}
		if p.Purged() != int64(wantPurged) || p.Rounds() != wantRounds {
			t.Errorf("moving=%v: Purged=%d Rounds=%d", moving, p.Purged(), p.Rounds())
		}
	}
}
