package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNamespaceCommands(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	ns := func(args ...string) string {
		t.Helper()
		return mustRun(t, nil, "", append(append([]string{"namespace"}, args...), "--endpoint", ep)...)
	}

	out := ns("create", "orders", "--n", "1", "--r", "1", "--w", "1", "--durability", "buffered", "--max-siblings", "7")
	for _, want := range []string{"orders", "buffered", "max siblings:", "7"} {
		if !strings.Contains(out, want) {
			t.Fatalf("create output lacks %q:\n%s", want, out)
		}
	}

	var got struct {
		Namespace struct {
			Name       string `json:"name"`
			N, R, W    int
			Durability string `json:"durability"`
			Limits     struct {
				MaxSiblings     int `json:"maxSiblings"`
				MaxValueBytes   int `json:"maxValueBytes"`
				ReadsPerSecond  int `json:"readsPerSecond"`
				WritesPerSecond int `json:"writesPerSecond"`
			} `json:"limits"`
		} `json:"namespace"`
	}
	decode := func(out string) {
		t.Helper()
		got.Namespace.Limits.MaxSiblings, got.Namespace.Limits.ReadsPerSecond, got.Namespace.Limits.WritesPerSecond = 0, 0, 0
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("-o json is not JSON: %v\n%s", err, out)
		}
	}
	decode(ns("get", "orders", "-o", "json"))
	if g := got.Namespace; g.Name != "orders" || g.N != 1 || g.R != 1 || g.Durability != "DURABILITY_BUFFERED" || g.Limits.MaxSiblings != 7 {
		t.Fatalf("get -o json = %+v", g)
	}

	// Only the flags given change: the durability and the other limits stay.
	decode(ns("update", "orders", "--max-value-bytes", "4096", "-o", "json"))
	if g := got.Namespace; g.Limits.MaxValueBytes != 4096 || g.Limits.MaxSiblings != 7 || g.Durability != "DURABILITY_BUFFERED" || g.R != 1 {
		t.Fatalf("update --max-value-bytes changed more than the limit: %+v", g)
	}
	decode(ns("update", "orders", "--durability", "sync", "-o", "json"))
	if g := got.Namespace; g.Durability != "DURABILITY_SYNC" || g.Limits.MaxValueBytes != 4096 {
		t.Fatalf("update --durability: %+v", g)
	}

	// Request rate limits: shown, set apart, lifted with 0.
	if out := ns("get", "orders"); !strings.Contains(out, "writes per second:") || !strings.Contains(out, "unlimited") {
		t.Fatalf("get without rate limits:\n%s", out)
	}
	decode(ns("update", "orders", "--writes-per-second", "500", "--reads-per-second", "2000", "-o", "json"))
	if g := got.Namespace; g.Limits.WritesPerSecond != 500 || g.Limits.ReadsPerSecond != 2000 || g.Limits.MaxSiblings != 7 {
		t.Fatalf("update --writes-per-second --reads-per-second: %+v", g)
	}
	if out := ns("get", "orders"); !strings.Contains(out, "500") || !strings.Contains(out, "2000") {
		t.Fatalf("get with rate limits:\n%s", out)
	}
	decode(ns("update", "orders", "--writes-per-second", "0", "-o", "json"))
	if g := got.Namespace; g.Limits.WritesPerSecond != 0 || g.Limits.ReadsPerSecond != 2000 {
		t.Fatalf("update --writes-per-second 0: %+v", g)
	}

	out = ns("list")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "orders") || !strings.Contains(out, "default") {
		t.Fatalf("list:\n%s", out)
	}
	var list struct {
		Namespaces []struct{ Name string } `json:"namespaces"`
	}
	if err := json.Unmarshal([]byte(ns("list", "-o", "json")), &list); err != nil || len(list.Namespaces) < 2 {
		t.Fatalf("list -o json: %v %+v", err, list)
	}

	if out := ns("delete", "orders"); !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %q", out)
	}
	if _, err := run(t, nil, "", "namespace", "get", "orders", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestNamespaceErrors(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	mustRun(t, nil, "", "namespace", "create", "taken", "--n", "1", "--r", "1", "--w", "1", "--endpoint", ep)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad durability", []string{"create", "x", "--durability", "maybe"}, "sync or buffered"},
		{"exists", []string{"create", "taken", "--n", "1", "--r", "1", "--w", "1"}, "already_exists"},
		{"bad name", []string{"create", "Bad Name"}, "invalid_argument"},
		{"update nothing", []string{"update", "taken"}, "nothing to update"},
		{"rate over the ceiling", []string{"update", "taken", "--writes-per-second", "1000001"}, "writes_per_second"},
		{"update n", []string{"update", "taken", "--n", "2"}, "unknown flag: --n"},
		{"update missing", []string{"update", "nope", "--r", "1"}, "not_found"},
		{"delete missing", []string{"delete", "nope"}, "not_found"},
		{"needs a name", []string{"get"}, "accepts 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(t, nil, "", append(append([]string{"namespace"}, c.args...), "--endpoint", ep)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}
