package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNamespaceQuotaFlags: the quota and resolver limit flags set their
// limits on create and, one at a time, on update; get shows them.
func TestNamespaceQuotaFlags(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	ns := func(args ...string) string {
		t.Helper()
		return mustRun(t, nil, "", append(append([]string{"namespace"}, args...), "--endpoint", ep)...)
	}
	type limits struct {
		MaxStoredBytes         uint64 `json:"maxStoredBytes,string"` // 64-bit integers are JSON strings
		MaxKeys                uint64 `json:"maxKeys,string"`
		ResolverCPUMsPerSecond uint32 `json:"resolverCpuMsPerSecond"`
		ResolverConcurrency    uint32 `json:"resolverConcurrency"`
	}
	var got struct {
		Namespace struct {
			Limits limits `json:"limits"`
		} `json:"namespace"`
	}
	decode := func(out string) {
		t.Helper()
		got.Namespace.Limits = limits{}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("-o json is not JSON: %v\n%s", err, out)
		}
	}
	decode(ns("create", "tenant", "--n", "1", "--r", "1", "--w", "1", "--max-keys", "50", "--max-stored-bytes", "1048576",
		"--resolver-cpu-ms-per-second", "10", "--resolver-concurrency", "4", "-o", "json"))
	if l := got.Namespace.Limits; l.MaxKeys != 50 || l.MaxStoredBytes != 1<<20 || l.ResolverCPUMsPerSecond != 10 || l.ResolverConcurrency != 4 {
		t.Fatalf("create: limits %+v", l)
	}
	decode(ns("update", "tenant", "--max-keys", "0", "-o", "json"))
	if l := got.Namespace.Limits; l.MaxKeys != 0 || l.MaxStoredBytes != 1<<20 || l.ResolverConcurrency != 4 {
		t.Fatalf("update --max-keys 0: limits %+v, want only max_keys lifted", l)
	}
	out := ns("get", "tenant")
	for _, want := range []string{"max keys:", "unlimited", "max stored bytes:", "1048576", "resolver concurrency:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get lacks %q:\n%s", want, out)
		}
	}
}
