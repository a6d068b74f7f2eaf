package server_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestNamespaceStatsAccess: GetNamespaceStats needs the admin scope in the
// namespace (a read or write token is denied); a token of another
// namespace, like the admin credential asking about a namespace that does
// not exist, gets NOT_FOUND; a request naming none is invalid.
func TestNamespaceStatsAccess(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	if _, err := root.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	stats := func(c as, namespace string) error {
		_, err := c.admin.GetNamespaceStats(t.Context(), &adminv1.GetNamespaceStatsRequest{Namespace: namespace})
		return err
	}
	for _, scopes := range [][]adminv1.TokenScope{{read}, {write}, {read, write}} {
		_, secret := newToken(t, root.admin, ns, scopes...)
		wantError(t, stats(clientsAs(t, url, secret), ns), connect.CodePermissionDenied, "admin")
	}
	_, secret := newToken(t, root.admin, ns, admin)
	nsAdmin := clientsAs(t, url, secret)
	if err := stats(nsAdmin, ns); err != nil {
		t.Errorf("the namespace's admin token: %v", err)
	}
	wantError(t, stats(nsAdmin, "other"), connect.CodeNotFound)
	wantError(t, stats(root, "ghost"), connect.CodeNotFound, "ghost")
	wantError(t, stats(root, ""), connect.CodeInvalidArgument, "namespace")
}

// TestNamespaceStatsCountWhatWasDone: a known mix of requests, errors and
// rejections shows exactly in GetNamespaceStats and in the namespace's
// series on /metrics; a namespace that does not exist gets no series.
func TestNamespaceStatsCountWhatWasDone(t *testing.T) {
	t.Parallel()
	e := startNode(t, nil)
	c := dial(t, e.APIURL(), protocols[0])
	ctx := t.Context()
	c.createNamespace(t, &adminv1.Namespace{Name: "stats"})
	const writesPerSecond = 5
	c.createNamespace(t, &adminv1.Namespace{Name: "limited", Limits: &adminv1.Limits{WritesPerSecond: writesPerSecond}})

	put := func(namespace, key, value string) error {
		_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: namespace, Key: []byte(key), Value: []byte(value)})
		return err
	}
	for i := range 4 {
		if err := put("stats", fmt.Sprint("k", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("stats", "k0", "again"); err != nil { // blind: k0 has two versions
		t.Fatal(err)
	}
	wantError(t, put("stats", strings.Repeat("k", 2000), "v"), connect.CodeInvalidArgument)
	for i := range 4 {
		c.get(t, "stats", fmt.Sprint("k", i))
	}
	c.get(t, "stats", "absent") // found nothing: not in reads by versions
	if _, err := c.kv.Delete(ctx, &kvv1.DeleteRequest{Namespace: "stats", Key: []byte("k3"), Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := listPages(ctx, c, &kvv1.ListKeysRequest{Namespace: "stats"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "ghost", Key: []byte("k")})
	wantError(t, err, connect.CodeNotFound)
	refused := 0
	for range 3 * writesPerSecond {
		if err := put("limited", "k", "v"); err != nil {
			wantError(t, err, connect.CodeResourceExhausted)
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("none of %d back-to-back writes at %d/s was refused", 3*writesPerSecond, writesPerSecond)
	}

	res, err := c.admin.GetNamespaceStats(ctx, &adminv1.GetNamespaceStatsRequest{Namespace: "stats"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetNodes()) != 1 || len(res.GetMissing()) != 0 || res.GetNodes()[0].GetNode() == "" || res.GetTotal().GetNode() != "" {
		t.Fatalf("one node: nodes %v, missing %v", res.GetNodes(), res.GetMissing())
	}
	total := res.GetTotal()
	wantOps(t, total, map[string]opWant{
		"get":    {requests: 5},
		"put":    {requests: 6, errors: map[string]uint64{"invalid_argument": 1}},
		"delete": {requests: 1},
		"list":   {requests: 1},
	})
	if total.GetStoredKeys() != 3 || total.GetStoredBytes() == 0 { // k3 was deleted
		t.Errorf("stored %d keys, %d bytes; want 3 keys", total.GetStoredKeys(), total.GetStoredBytes())
	}
	if got := total.GetReadsByVersions(); !slices.Equal(got, []uint64{3, 1, 0, 0}) {
		t.Errorf("reads by versions = %v, want [3 1 0 0]", got)
	}
	if len(total.GetRejections()) != 0 || total.GetResolver().GetBreaker() != "closed" || total.GetResolver().GetCalls() != 0 {
		t.Errorf("rejections %v, resolver %v; want none, closed, no calls", total.GetRejections(), total.GetResolver())
	}
	res, err = c.admin.GetNamespaceStats(ctx, &adminv1.GetNamespaceStatsRequest{Namespace: "limited"})
	if err != nil {
		t.Fatal(err)
	}
	r := uint64(refused)
	wantOps(t, res.GetTotal(), map[string]opWant{
		"put": {requests: 3 * writesPerSecond, errors: map[string]uint64{"resource_exhausted": r}},
	})
	if got := res.GetTotal().GetRejections(); len(got) != 1 || got[0].GetName() != "writes_per_second" || got[0].GetCount() != r {
		t.Errorf("rejections = %v, want writes_per_second=%d", got, refused)
	}

	status, body := httpGet(t, http.DefaultClient, "http://"+e.AdminAddr()+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	lines := strings.Split(body, "\n")
	for _, want := range []string{
		`concord_namespace_requests_total{code="ok",namespace="stats",operation="put"} 5`,
		`concord_namespace_requests_total{code="invalid_argument",namespace="stats",operation="put"} 1`,
		`concord_namespace_requests_total{code="ok",namespace="stats",operation="list"} 1`,
		`concord_namespace_requests_total{code="resource_exhausted",namespace="limited",operation="put"} ` + fmt.Sprint(refused),
		`concord_namespace_request_duration_seconds_count{namespace="stats",operation="get"} 5`,
		`concord_namespace_request_duration_seconds_bucket{namespace="stats",operation="get",le="+Inf"} 5`,
		`concord_read_versions_total{namespace="stats",versions="1"} 3`,
		`concord_read_versions_total{namespace="stats",versions="2"} 1`,
		`concord_namespace_rejections_total{limit="writes_per_second",namespace="limited"} ` + fmt.Sprint(refused),
		`concord_namespace_keys_repaired_total{namespace="stats"} 0`,
		`concord_namespace_hints{namespace="stats"} 0`,
		`concord_resolver_cpu_seconds_total{namespace="stats"} 0`,
		`concord_resolver_duration_seconds_count{namespace="stats"} 0`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("/metrics has no line %s", want)
		}
	}
	for _, prefix := range []string{"concord_pebble_flushes_total ", "concord_pebble_l0_files ", "concord_pebble_disk_usage_bytes ",
		"concord_pebble_block_cache_hits_total ", "concord_pebble_wal_written_bytes_total ", "concord_pebble_read_amplification "} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
			t.Errorf("/metrics has no %s", prefix)
		}
	}
	if strings.Contains(body, `namespace="ghost"`) {
		t.Errorf("/metrics has series of a namespace that does not exist:\n%s", grepLines(body, "ghost"))
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(body, "namespace="))
	}
}

type opWant struct {
	requests uint64
	errors   map[string]uint64
}

// wantOps checks the operations of s named in want: their requests and
// errors, and a latency measured for every operation that had requests.
func wantOps(t *testing.T, s *adminv1.NamespaceStats, want map[string]opWant) {
	t.Helper()
	var names []string
	for _, o := range s.GetOperations() {
		names = append(names, o.GetOperation())
		w, ok := want[o.GetOperation()]
		if !ok {
			continue
		}
		errs := map[string]uint64{}
		for _, e := range o.GetErrors() {
			errs[e.GetName()] = e.GetCount()
		}
		if o.GetRequests() != w.requests || !maps.Equal(errs, w.errors) {
			t.Errorf("%s: %d requests, errors %v; want %d, %v", o.GetOperation(), o.GetRequests(), errs, w.requests, w.errors)
		}
		if w.requests > 0 && (o.GetP50Ms() <= 0 || o.GetP99Ms() < o.GetP50Ms() || o.GetP999Ms() < o.GetP99Ms()) {
			t.Errorf("%s: latency p50 %v, p99 %v, p99.9 %v ms; want positive and ordered", o.GetOperation(), o.GetP50Ms(), o.GetP99Ms(), o.GetP999Ms())
		}
	}
	if !slices.Equal(names, []string{"get", "put", "delete", "list"}) {
		t.Errorf("operations %v, want get, put, delete, list", names)
	}
}
