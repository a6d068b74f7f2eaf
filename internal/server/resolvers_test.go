package server_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// mergesModule builds resolvers/laws/testdata/merges.wat: the merge it runs
// is picked by the first byte of the resolver config (M lawful, F
// order-sensitive, …).
func mergesModule(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "merges.wasm")
	if b, err := exec.Command("wat2wasm", "-o", out, filepath.Join("..", "..", "resolvers", "laws", "testdata", "merges.wat")).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samples(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

func connectCode(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return 0
}

func TestResolverUploadChecksAndActivates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := startNode(t, nil)
	ep := e.APIURL()
	admin := adminv1connect.NewAdminServiceClient(credentialed, ep)
	kv := kvv1connect.NewKVServiceClient(credentialed, ep)
	wasm := mergesModule(t)
	for _, ns := range []string{"ok", "sloppy"} {
		if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: ns}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("bad input is INVALID_ARGUMENT with the reason", func(t *testing.T) {
		cases := []struct {
			name string
			req  *adminv1.UploadResolverRequest
			want string
		}{
			{"not wasm", &adminv1.UploadResolverRequest{Namespace: "ok", Source: &adminv1.UploadResolverRequest_Module{Module: []byte("hello")}, Samples: samples("a")}, "not WebAssembly"},
			{"too large", &adminv1.UploadResolverRequest{Namespace: "ok", Source: &adminv1.UploadResolverRequest_Module{Module: make([]byte, 8<<20+1)}}, "max_module_bytes"},
			{"no samples", &adminv1.UploadResolverRequest{Namespace: "ok", Source: &adminv1.UploadResolverRequest_Module{Module: wasm}, Config: []byte("M")}, "sample"},
			{"unknown built-in", &adminv1.UploadResolverRequest{Namespace: "ok", Source: &adminv1.UploadResolverRequest_Builtin{Builtin: "nope"}}, "no built-in"},
		}
		for _, c := range cases {
			_, err := admin.UploadResolver(ctx, c.req)
			if connectCode(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want INVALID_ARGUMENT mentioning %q", c.name, err, c.want)
			}
		}
	})

	t.Run("an order-sensitive module is refused with the law and the input", func(t *testing.T) {
		_, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{
			Namespace: "sloppy", Source: &adminv1.UploadResolverRequest_Module{Module: wasm}, Config: []byte("F"),
			Samples: samples("apple", "pear", "fig"),
		})
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
			t.Fatalf("upload of an order-sensitive module: %v", err)
		}
		var report *adminv1.LawReport
		for _, d := range ce.Details() {
			if m, err := d.Value(); err == nil {
				report, _ = m.(*adminv1.LawReport)
			}
		}
		if report == nil || !report.GetRefused() || len(report.GetViolations()) == 0 {
			t.Fatalf("no refusing LawReport in the error: %v", ce.Details())
		}
		v := report.GetViolations()[0]
		if v.GetLaw() != "order-insensitivity" || len(v.GetInput()) < 2 {
			t.Fatalf("violation %v, want order-insensitivity with its input", v)
		}
		ns, err := admin.GetNamespace(ctx, &adminv1.GetNamespaceRequest{Name: "sloppy"})
		if err != nil || ns.GetNamespace().GetResolver() != nil {
			t.Fatalf("a refused module was activated: %v %v", ns, err)
		}
	})

	t.Run("a lawful module is activated and merges siblings", func(t *testing.T) {
		res, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{
			Namespace: "ok", Source: &adminv1.UploadResolverRequest_Module{Module: wasm}, Config: []byte("M"),
			Samples: samples("apple", "pear", "fig"), Name: "max",
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := res.GetNamespace().GetResolver(); r.GetName() != "max" || r.GetMode() != adminv1.ResolverMode_RESOLVER_MODE_ON_WRITE || len(r.GetModuleSha256()) != 64 {
			t.Fatalf("resolver after upload: %v", r)
		}
		for _, v := range []string{"apple", "pear", "fig"} {
			if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "ok", Key: []byte("k"), Value: []byte(v)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "ok", Key: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.GetSiblings()) != 1 || string(got.GetSiblings()[0].GetValue()) != "pear" {
			t.Fatalf("on_write merge: %v", got.GetSiblings())
		}
		body := scrape(t, "http://"+e.AdminAddr())
		for _, want := range []string{`concord_resolver_calls_total{namespace="ok"}`, `concord_resolver_duration_seconds_count{namespace="ok"}`, `concord_resolver_cpu_seconds_total{namespace="ok"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics has no %s:\n%s", want, body)
			}
		}
		stats, err := admin.GetNamespaceStats(ctx, &adminv1.GetNamespaceStatsRequest{Namespace: "ok"})
		if r := stats.GetTotal().GetResolver(); err != nil || r.GetCalls() == 0 || r.GetCpuMs() <= 0 || r.GetP99Ms() <= 0 || r.GetBreaker() != "closed" {
			t.Errorf("resolver stats %v, %v; want calls, CPU time, a p99 and a closed breaker", r, err)
		}
		list, err := admin.ListResolvers(ctx, &adminv1.ListResolversRequest{})
		if err != nil || len(list.GetResolvers()) != 1 || list.GetResolvers()[0].GetCalls() == 0 {
			t.Fatalf("list: %v %v", list, err)
		}
		if _, err := admin.DeleteResolver(ctx, &adminv1.DeleteResolverRequest{Namespace: "ok"}); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"x", "y"} {
			if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "ok", Key: []byte("k2"), Value: []byte(v)}); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := kv.Get(ctx, &kvv1.GetRequest{Namespace: "ok", Key: []byte("k2")}); len(got.GetSiblings()) != 2 {
			t.Fatalf("after DeleteResolver siblings should reach the client: %v", got.GetSiblings())
		}
	})

	t.Run("a built-in needs no samples", func(t *testing.T) {
		res, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{Namespace: "sloppy", Source: &adminv1.UploadResolverRequest_Builtin{Builtin: "set-union"}, Mode: adminv1.ResolverMode_RESOLVER_MODE_ON_READ})
		if err != nil || res.GetNamespace().GetResolver().GetName() != "set-union" {
			t.Fatalf("built-in upload: %v %v", res, err)
		}
	})
}

// scrape returns /metrics of the admin listener at admin.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOnReadMergeIsReplacedByAWriteWithItsContext: in an on_read
// namespace a Get shows the merge and stores it; the context it answers
// covers the stored merge, so a Put with that context replaces it (and the
// siblings it merged) instead of joining it as a sibling.
func TestOnReadMergeIsReplacedByAWriteWithItsContext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ep := startNode(t, nil).APIURL()
	admin := adminv1connect.NewAdminServiceClient(credentialed, ep)
	kv := kvv1connect.NewKVServiceClient(credentialed, ep)
	if _, err := admin.CreateNamespace(ctx, &adminv1.CreateNamespaceRequest{Name: "sets", Settings: &adminv1.NamespaceSettings{N: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UploadResolver(ctx, &adminv1.UploadResolverRequest{Namespace: "sets",
		Source: &adminv1.UploadResolverRequest_Builtin{Builtin: "set-union"}, Mode: adminv1.ResolverMode_RESOLVER_MODE_ON_READ}); err != nil {
		t.Fatal(err)
	}
	key := []byte("k")
	for _, v := range []string{`["a"]`, `["b"]`} {
		if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "sets", Key: key, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	read, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "sets", Key: key})
	if err != nil || read.GetResolvedBy() != "set-union" || len(read.GetSiblings()) != 1 {
		t.Fatalf("Get of two siblings: %v, %v; want one merged by set-union", read, err)
	}
	if _, err := kv.Put(ctx, &kvv1.PutRequest{Namespace: "sets", Key: key, Value: []byte(`["c"]`), Context: read.GetContext()}); err != nil {
		t.Fatal(err)
	}
	got, err := kv.Get(ctx, &kvv1.GetRequest{Namespace: "sets", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if s := got.GetSiblings(); len(s) != 1 || string(s[0].GetValue()) != `["c"]` {
		t.Fatalf("after a write with the merged read's context: %v (resolved by %q), want only [\"c\"]", got.GetSiblings(), got.GetResolvedBy())
	}
}
