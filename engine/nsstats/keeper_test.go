package nsstats_test

import (
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/nsstats"
)

// existing is a set of namespaces that exist, for a Keeper.
type existing map[string]bool

func (e existing) has(ns string) bool { return e[ns] }

// TestKeeperCounts: concurrent counting of every kind of number lands
// exactly in the namespace's snapshot.
func TestKeeperCounts(t *testing.T) {
	t.Parallel()
	k := nsstats.NewKeeper(existing{"a": true}.has)
	const workers, each = 4, 250
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				k.Request("a", nsstats.OpGet, "ok", time.Millisecond)
				k.Request("a", nsstats.OpPut, "", 2*time.Millisecond)
				if i%10 == 0 {
					k.Request("a", nsstats.OpDelete, "not_found", time.Millisecond)
					k.Rejected("a", "writes_per_second")
				}
				k.Read("a", i%6) // 0 (not counted) to 5 (4+)
				k.Repaired("a", 2)
				k.Resolved("a", 100*time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := k.Snapshot("a")
	want := map[string]uint64{"get": workers * each, "put": workers * each, "delete": workers * each / 10, "list": 0}
	for _, o := range s.Operations {
		if o.Requests != want[o.Name] || o.Latency.Count() != want[o.Name] {
			t.Errorf("%s: %d requests, %d timed; want %d", o.Name, o.Requests, o.Latency.Count(), want[o.Name])
		}
	}
	if got := s.Operations[nsstats.OpDelete].Errors; !maps.Equal(got, map[string]uint64{"not_found": workers * each / 10}) {
		t.Errorf("delete errors = %v", got)
	}
	if s.Operations[nsstats.OpGet].Errors != nil || s.Operations[nsstats.OpPut].Errors != nil {
		t.Errorf("successes counted as errors: %v, %v", s.Operations[nsstats.OpGet].Errors, s.Operations[nsstats.OpPut].Errors)
	}
	if p := s.Operations[nsstats.OpPut].P99; p < 1900*time.Microsecond || p > 2100*time.Microsecond {
		t.Errorf("put p99 = %v, want about 2ms", p)
	}
	var reads [nsstats.Versions]uint64
	for i := range each {
		if v := i % 6; v > 0 {
			reads[min(v, 4)-1] += workers
		}
	}
	if s.ReadsByVersions != reads {
		t.Errorf("reads by versions = %v, want %v", s.ReadsByVersions, reads)
	}
	if s.KeysRepaired != 2*workers*each {
		t.Errorf("keys repaired = %d, want %d", s.KeysRepaired, 2*workers*each)
	}
	if !maps.Equal(s.Rejections, map[string]uint64{"writes_per_second": workers * each / 10}) {
		t.Errorf("rejections = %v", s.Rejections)
	}
	if s.Resolver.Latency.Count() != workers*each || s.Resolver.P99 <= 0 {
		t.Errorf("resolver: %d resolutions timed, p99 %v", s.Resolver.Latency.Count(), s.Resolver.P99)
	}
}

// TestKeeperOnlyCountsExistingNamespaces: numbers of a namespace that does
// not exist are dropped, and Retain forgets a deleted one.
func TestKeeperOnlyCountsExistingNamespaces(t *testing.T) {
	t.Parallel()
	live := existing{"a": true, "b": true}
	k := nsstats.NewKeeper(live.has)
	for _, ns := range []string{"a", "b", "nope", ""} {
		k.Request(ns, nsstats.OpGet, "ok", time.Millisecond)
		k.Read(ns, 1)
	}
	if got := k.Snapshot("nope"); got.Operations[nsstats.OpGet].Requests != 0 || got.ReadsByVersions[0] != 0 {
		t.Errorf("a namespace that does not exist has numbers: %+v", got)
	}
	delete(live, "b")
	k.Retain(live.has)
	if got := k.Snapshot("b"); got.Operations[nsstats.OpGet].Requests != 0 {
		t.Errorf("a deleted namespace kept its numbers after Retain: %d gets", got.Operations[nsstats.OpGet].Requests)
	}
	if got := k.Snapshot("a"); got.Operations[nsstats.OpGet].Requests != 1 || got.ReadsByVersions[0] != 1 {
		t.Errorf("a live namespace lost its numbers: %+v", got)
	}
}

// TestTotal: counts add up, quantiles take the largest node's, the breaker
// the worst, stored figures one replica's.
func TestTotal(t *testing.T) {
	t.Parallel()
	node := func(id string, gets uint64, p99 time.Duration, breaker string, stored uint64) nsstats.Stats {
		s := nsstats.Stats{Namespace: "a", Node: id, Operations: []nsstats.Operation{
			{Name: "get", Requests: gets, Errors: map[string]uint64{"unavailable": 1}, P50: p99 / 10, P99: p99, P999: 2 * p99},
			{Name: "put", Requests: 1},
		}}
		s.ReadsByVersions = [nsstats.Versions]uint64{gets, 1, 0, 0}
		s.Resolver = nsstats.Resolver{Calls: 3, Failures: map[string]uint64{"trap": 1}, CPU: time.Millisecond, P99: p99, Breaker: breaker}
		s.Rejections = map[string]uint64{"reads_per_second": 2}
		s.Hints, s.KeysRepaired, s.StoredKeys, s.StoredBytes = 1, 4, stored, 10*stored
		return s
	}
	got := nsstats.Total([]nsstats.Stats{
		node("n1", 10, 5*time.Millisecond, nsstats.BreakerClosed, 30),
		node("n2", 20, 9*time.Millisecond, nsstats.BreakerOpen, 30),
		node("n3", 30, time.Millisecond, nsstats.BreakerHalfOpen, 30),
	}, 3)
	want := nsstats.Stats{Namespace: "a", Operations: []nsstats.Operation{
		{Name: "get", Requests: 60, Errors: map[string]uint64{"unavailable": 3}, P50: 900 * time.Microsecond, P99: 9 * time.Millisecond, P999: 18 * time.Millisecond},
		{Name: "put", Requests: 3},
		{Name: "delete"},
		{Name: "list"},
	}}
	want.ReadsByVersions = [nsstats.Versions]uint64{60, 3, 0, 0}
	want.Resolver = nsstats.Resolver{Calls: 9, Failures: map[string]uint64{"trap": 3}, CPU: 3 * time.Millisecond, P99: 9 * time.Millisecond, Breaker: nsstats.BreakerOpen}
	want.Rejections = map[string]uint64{"reads_per_second": 6}
	want.Hints, want.KeysRepaired, want.StoredKeys, want.StoredBytes = 3, 12, 30, 300
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Total:\n got %+v\nwant %+v", got, want)
	}
	if empty := nsstats.Total(nil, 3); len(empty.Operations) != 4 || empty.Resolver.Breaker != nsstats.BreakerClosed {
		t.Errorf("Total of no node = %+v, want the four operations at zero and a closed breaker", empty)
	}
}
