package topology_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/node/topology"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// gossip is a fake: the members it knows, all alive, and the documents,
// the newest version of each.
type gossip struct {
	mu      sync.Mutex
	members []membership.Member
	docs    map[string]membership.Doc
	onDoc   func(membership.Doc) bool
}

func newGossip(ids ...string) *gossip {
	g := &gossip{docs: map[string]membership.Doc{}}
	for _, id := range ids {
		g.members = append(g.members, membership.Member{ID: id, Meta: membership.Meta{APIAddr: id + ":7700"}, State: membership.Alive})
	}
	return g
}

func (g *gossip) Alive(string) bool { return true }
func (g *gossip) Members() []membership.Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.members
}
func (g *gossip) Doc(name string) (membership.Doc, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.docs[name]
	return d, ok
}
func (g *gossip) Docs() []membership.Doc {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []membership.Doc
	for _, d := range g.docs {
		out = append(out, d)
	}
	return out
}
func (g *gossip) Publish(d membership.Doc) error {
	g.mu.Lock()
	if cur, ok := g.docs[d.Name]; !ok || d.Version > cur.Version {
		g.docs[d.Name] = d
	}
	g.mu.Unlock()
	if g.onDoc != nil {
		g.onDoc(d) // as gossip tells the node of a newer document
	}
	return nil
}

func open(t *testing.T, self string, g *gossip) *topology.Topology {
	t.Helper()
	top, err := topology.Open(topology.Config{
		Self: self, Store: memory.New(), Partitions: 16, TargetN: 3,
		ReplicaCounts: func() []int { return []int{3} },
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		top.Attach(g)
		g.onDoc = top.OnDoc
	}
	return top
}

func wantKind(t *testing.T, err error, kind error, what string) {
	t.Helper()
	var inv *errs.InvalidError
	var pre *errs.PreconditionError
	switch {
	case kind == nil && err != nil:
		t.Fatalf("%s: %v", what, err)
	case errors.As(kind, &inv) && !errors.As(err, &inv), errors.As(kind, &pre) && !errors.As(err, &pre):
		t.Fatalf("%s: got %v, want a %T", what, err, kind)
	}
}

// TestStagePlanCommit walks the rules of a ring change: only members
// gossip knows can be staged, nothing is planned without a stage, a commit
// installs the planned ring and clears the stage, and no second commit is
// accepted until every transfer of the first is done.
func TestStagePlanCommit(t *testing.T) {
	t.Parallel()
	g := newGossip("a", "b", "c")
	top := open(t, "a", g)
	invalid, precondition := errs.Invalid("x", "x"), errs.Precondition("x")

	r, ok := top.Ring()
	if !ok || len(r.Members()) != 1 {
		t.Fatalf("a new node's ring: %v members, want itself alone", len(r.Members()))
	}
	_, _, err := top.Plan()
	wantKind(t, err, precondition, "plan with nothing staged")
	_, err = top.StageJoin("zz")
	wantKind(t, err, invalid, "stage a node gossip does not know")
	_, err = top.StageJoin("a")
	wantKind(t, err, invalid, "stage a node already in the ring")
	_, err = top.StageLeave("a")
	wantKind(t, err, invalid, "stage the last node's leave")
	_, err = top.StageLeave("b")
	wantKind(t, err, invalid, "stage the leave of a node not in the ring")

	if _, err := top.StageJoin("b"); err != nil {
		t.Fatal(err)
	}
	staged, err := top.StageJoin("c:7700") // by address
	wantKind(t, err, nil, "stage c by its API address")
	if len(staged) != 2 || staged[1] != (topology.Change{Kind: "join", Node: "c"}) {
		t.Fatalf("staged %v", staged)
	}
	planned, transfers, err := top.Plan()
	wantKind(t, err, nil, "plan")
	if len(planned.Members()) != 3 || len(transfers) == 0 {
		t.Fatalf("plan: %d members, %d transfers", len(planned.Members()), len(transfers))
	}

	next, _, err := top.Commit()
	wantKind(t, err, nil, "commit")
	if cur, _ := top.Ring(); cur.Epoch() != next.Epoch() || len(cur.Members()) != 3 {
		t.Fatalf("after commit the ring has epoch %d and %d members, want the planned one", cur.Epoch(), len(cur.Members()))
	}
	if len(top.Staged()) != 0 {
		t.Errorf("stage not cleared: %v", top.Staged())
	}
	epoch, progress, complete := top.Handoffs()
	if complete || epoch != next.Epoch() || len(progress) == 0 {
		t.Fatalf("handoffs after commit: epoch %d, %d transfers, complete %v", epoch, len(progress), complete)
	}
	if _, err := top.StageLeave("c"); err != nil {
		t.Fatal(err)
	}
	_, _, err = top.Commit()
	wantKind(t, err, precondition, "commit while partitions move")

	// A moving partition keeps its old replica as an extra one, and a
	// receiver is receiving it, until the receivers report it done.
	for _, p := range progress {
		if pref, _ := top.Replicas(uint16(p.Partition), 3); !strings.Contains(strings.Join(pref, ","), p.From) {
			t.Errorf("partition %d: replicas %v lack its old replica %s while it moves", p.Partition, pref, p.From)
		}
	}
	reports := map[string]*handoff.Report{}
	for _, p := range progress {
		if reports[p.To] == nil {
			reports[p.To] = &handoff.Report{Epoch: epoch}
		}
		p.Done = true
		reports[p.To].Transfers = append(reports[p.To].Transfers, p)
	}
	for to, rep := range reports {
		raw, _ := json.Marshal(rep)
		_ = g.Publish(membership.Doc{Name: "handoff/" + to, Version: 1, Data: raw})
	}
	if _, _, complete := top.Handoffs(); !complete {
		t.Fatal("every receiver reported done, but the change is not complete")
	}
	for p := range 16 {
		if top.Receiving(uint16(p)) {
			t.Errorf("partition %d still receiving", p)
		}
	}
	if _, _, err := top.Commit(); err != nil {
		t.Fatalf("commit after the change is done: %v", err)
	}
}

// TestSingleNode: without gossip a node owns every partition, and the
// cluster calls say it runs without a cluster.
func TestSingleNode(t *testing.T) {
	t.Parallel()
	top := open(t, "a", nil)
	for p := range 16 {
		if pref, fb := top.Replicas(uint16(p), 3); len(pref) != 1 || pref[0] != "a" || len(fb) != 0 {
			t.Fatalf("partition %d: %v %v", p, pref, fb)
		}
	}
	if !top.Alive("a") || top.Alive("b") {
		t.Error("a single node is alive alone")
	}
	_, err := top.StageJoin("b")
	wantKind(t, err, errs.Invalid("x", "x"), "join on a single node")
	wantKind(t, top.ClearStaged(), errs.Precondition("x"), "clear on a single node")
}

// TestRingIsKept: a restarted node serves the ring it had.
func TestRingIsKept(t *testing.T) {
	t.Parallel()
	store := memory.New()
	cfg := topology.Config{Self: "a", Store: store, Partitions: 8, TargetN: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	first, err := topology.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := first.Ring()
	cfg.Joining = true
	again, err := topology.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r2, ok := again.Ring(); !ok || r2.Epoch() != r1.Epoch() {
		t.Fatal("the stored ring was not loaded")
	}
	fresh, err := topology.Open(topology.Config{Self: "b", Store: memory.New(), Partitions: 8, TargetN: 3, Joining: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fresh.Ring(); ok {
		t.Fatal("a joining node without a stored ring made one")
	}
}
