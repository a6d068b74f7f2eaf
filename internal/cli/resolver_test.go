package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolverCommands(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	e := []string{"--endpoint", ep}
	sets := writeFile(t, "samples.json", `[["a","b"],["b","c"],["d"]]`)

	mustRun(t, nil, "", append([]string{"namespace", "create", "tags"}, e...)...)
	out := mustRun(t, nil, "", append([]string{"resolver", "upload", "tags", "--builtin", "set-union", "--samples", sets}, e...)...)
	if !strings.Contains(out, "set-union") || !strings.Contains(out, "on_write") {
		t.Fatalf("upload output: %s", out)
	}
	mustRun(t, nil, "", append([]string{"kv", "put", "k", `["x"]`, "-n", "tags"}, e...)...)
	mustRun(t, nil, "", append([]string{"kv", "put", "k", `["y"]`, "-n", "tags"}, e...)...)
	out = mustRun(t, nil, "", append([]string{"kv", "get", "k", "-n", "tags"}, e...)...)
	if !strings.Contains(out, `["x","y"]`) {
		t.Fatalf("the namespace's resolver did not merge the siblings: %s", out)
	}
	out = mustRun(t, nil, "", append([]string{"resolver", "list"}, e...)...)
	if !strings.Contains(out, "tags") || !strings.Contains(out, "set-union") {
		t.Fatalf("list: %s", out)
	}
	if _, err := run(t, nil, "", append([]string{"resolver", "upload", "tags", writeFile(t, "bad.wasm", "not wasm"), "--samples", sets}, e...)...); err == nil || !strings.Contains(err.Error(), "WebAssembly") {
		t.Fatalf("uploading garbage: %v", err)
	}
	mustRun(t, nil, "", append([]string{"resolver", "delete", "tags"}, e...)...)
}

func TestResolverTestRunsOffline(t *testing.T) {
	t.Parallel()
	sets := writeFile(t, "samples.json", `[["a","b"],["b","c"],["d"]]`)
	out := mustRun(t, nil, "", "resolver", "test", "--builtin", "set-union", "--samples", sets, "--endpoint", "http://127.0.0.1:1")
	for _, law := range []string{"determinism", "order-insensitivity", "idempotence", "associativity"} {
		if !strings.Contains(out, law) {
			t.Errorf("offline report does not mention %s:\n%s", law, out)
		}
	}
	if _, err := run(t, nil, "", "resolver", "test", "--builtin", "set-union"); err == nil || !strings.Contains(err.Error(), "--samples") {
		t.Fatalf("test without samples: %v", err)
	}
}
