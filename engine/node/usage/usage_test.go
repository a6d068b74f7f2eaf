package usage_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/node/usage"
	"github.com/concord-kv/concord/engine/replica"
)

// local is a fake replica: its figures are what the test sets; a
// partition's recount is counted.
type local struct {
	mu        sync.Mutex
	figures   map[string]replica.Usage
	recounted []uint16
}

func (l *local) Partitions() int { return 4 }

func (l *local) RecountUsage(p uint16) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recounted = append(l.recounted, p)
	return nil
}

func (l *local) recounts() []uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recounted)
}

func (l *local) Usage(ns string) replica.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.figures[ns]
}

func (l *local) UsageAll() map[string]replica.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.figures)
}

func (l *local) set(ns string, u replica.Usage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.figures[ns] = u
}

// docs is a fake gossip: it keeps what was published.
type docs struct {
	mu  sync.Mutex
	out []membership.Doc
}

func (d *docs) publish(doc membership.Doc) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.out = append(d.out, doc)
	return nil
}

func (d *docs) all() []membership.Doc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]membership.Doc(nil), d.out...)
}

func doc(t *testing.T, node string, version uint64, figures map[string][2]int64) membership.Doc {
	t.Helper()
	raw, err := json.Marshal(figures)
	if err != nil {
		t.Fatal(err)
	}
	return membership.Doc{Name: usage.DocPrefix + node, Version: version, Data: raw}
}

// TestTracker: the tracker counts every partition before its node's
// figures count and are published; then it recounts one partition every
// RecountEvery intervals, in turn, and publishes only figures that
// changed, of namespaces with a quota, at most every PublishEvery
// intervals, each time under a higher version.
func TestTracker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := &local{figures: map[string]replica.Usage{"a.1": {Keys: 3, Bytes: 30}, "b.1": {Keys: 7, Bytes: 70}}}
		var d docs
		tr := usage.New(usage.Config{Self: "n1", Local: l, Publish: d.publish, Interval: time.Second,
			Quota: func(ns string) bool { return ns == "a.1" }})
		if tr.Ready() {
			t.Fatal("ready before the first count")
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.Run(ctx)
		}()
		synctest.Wait()
		if !tr.Ready() || len(l.recounts()) != 4 {
			t.Fatalf("after the first count: ready %v, partitions recounted %v, want all 4", tr.Ready(), l.recounts())
		}
		if got := d.all(); len(got) != 1 || got[0].Name != "usage/n1" {
			t.Fatalf("published %v, want one document usage/n1", got)
		}
		time.Sleep(2 * usage.RecountEvery * time.Second) // nothing changed
		synctest.Wait()
		if got := len(d.all()); got != 1 {
			t.Fatalf("%d documents published with unchanged figures, want 1", got)
		}
		if want := []uint16{0, 1, 2, 3, 0, 1}; !slices.Equal(l.recounts(), want) {
			t.Errorf("partitions recounted %v, want %v (one every %d intervals, in turn)", l.recounts(), want, usage.RecountEvery)
		}
		l.set("a.1", replica.Usage{Keys: 4, Bytes: 40})
		time.Sleep(usage.PublishEvery * time.Second)
		synctest.Wait()
		got := d.all()
		if len(got) != 2 || got[1].Version <= got[0].Version {
			t.Fatalf("published %v after a change, want a second document with a higher version", got)
		}
		var figures map[string][2]int64
		if err := json.Unmarshal(got[1].Data, &figures); err != nil || figures["a.1"] != [2]int64{4, 40} || len(figures) != 1 {
			t.Fatalf("document %s (%v), want a.1: [4, 40] alone (b.1 has no quota)", got[1].Data, err)
		}
		// This node's older document comes back from gossip with a higher
		// version (it published it before a restart, on a clock ahead).
		tr.OnDoc(doc(t, "n1", got[1].Version+1000, nil))
		l.set("a.1", replica.Usage{Keys: 5, Bytes: 50})
		time.Sleep(usage.PublishEvery * time.Second)
		synctest.Wait()
		if got := d.all(); len(got) != 3 || got[2].Version <= got[1].Version+1000 {
			t.Fatalf("published %v, want a third document above the version seen", got)
		}
		cancel()
		<-done
	})
}

// TestEstimate: a namespace's usage across the cluster is the sum over
// the members given (this node's live figures, the others' documents)
// divided by the copies each key has; nodes outside the members do not
// count; until its first count is done this node counts by its last
// document.
func TestEstimate(t *testing.T) {
	t.Parallel()
	l := &local{figures: map[string]replica.Usage{"a.1": {Keys: 10, Bytes: 100}}}
	tr := usage.New(usage.Config{Self: "n1", Local: l})
	for _, d := range []membership.Doc{
		doc(t, "n1", 1, map[string][2]int64{"a.1": {7, 70}}), // before a restart
		doc(t, "n2", 1, map[string][2]int64{"a.1": {10, 100}, "b.1": {1, 1}}),
		doc(t, "n3", 1, map[string][2]int64{"a.1": {11, 110}}),
		doc(t, "gone", 1, map[string][2]int64{"a.1": {1000, 1000}}),
	} {
		if !tr.OnDoc(d) {
			t.Fatalf("OnDoc(%s) = false", d.Name)
		}
	}
	if tr.OnDoc(membership.Doc{Name: "ns/a"}) {
		t.Fatal("OnDoc took a namespace document")
	}
	members := []string{"n1", "n2", "n3"}
	if got, want := tr.Estimate("a.1", members, 3), (replica.Usage{Keys: 9, Bytes: 93}); got != want {
		t.Errorf("before the first count: %+v, want %+v (this node by its last document)", got, want)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Run counts every partition, then stops at once
	tr.Run(ctx)
	if tr.Ready() {
		t.Fatal("ready after a run canceled before its first count")
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.Run(ctx)
		}()
		synctest.Wait() // the first count is done; Run waits for its first tick
		cancel()
		<-done
	})
	if !tr.Ready() {
		t.Fatal("not ready after the first count")
	}
	for _, tt := range []struct {
		ns      string
		members []string
		copies  int
		want    replica.Usage
	}{
		{"a.1", members, 3, replica.Usage{Keys: 10, Bytes: 103}},
		{"a.1", members, 2, replica.Usage{Keys: 15, Bytes: 155}},
		{"a.1", []string{"n1"}, 1, replica.Usage{Keys: 10, Bytes: 100}},
		{"b.1", members, 3, replica.Usage{}},
		{"c.1", members, 3, replica.Usage{}},
		{"a.1", nil, 3, replica.Usage{}},
	} {
		if got := tr.Estimate(tt.ns, tt.members, tt.copies); got != tt.want {
			t.Errorf("Estimate(%s, %v, %d) = %+v, want %+v", tt.ns, tt.members, tt.copies, got, tt.want)
		}
	}
}
