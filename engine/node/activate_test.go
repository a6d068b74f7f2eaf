package node_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/laws"
)

// mergesModule builds resolvers/laws/testdata/merges.wat: the merge it runs
// is picked by the first byte of the resolver config (M lawful, F
// order-sensitive, C nondeterministic, …).
func mergesModule(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "merges.wasm")
	cmd := exec.Command("wat2wasm", "-o", out, filepath.Join("..", "..", "resolvers", "laws", "testdata", "merges.wat"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (apt-get install wabt): %v\n%s", err, b)
	}
	return readFile(t, out)
}

func byteValues(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

// TestActivateResolverRefusesWhatTheLawsRefuse: the engine, not the API,
// decides that a module must pass the law checks before it resolves a
// namespace. Every upload that must not activate leaves the namespace as
// it was.
func TestActivateResolverRefusesWhatTheLawsRefuse(t *testing.T) {
	t.Parallel()
	wasm := mergesModule(t)
	fruit := byteValues("apple", "pear", "fig")
	tooMany := make([][]byte, node.MaxResolverSamples+1)
	for i := range tooMany {
		tooMany[i] = []byte{byte(i)}
	}
	cases := []struct {
		name   string
		upload node.ResolverUpload
		check  func(error) bool
		want   string
	}{
		{"order-sensitive", node.ResolverUpload{Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("F")}},
			refusedFor(laws.LawOrderInsensitivity), "refused with the order-insensitivity violation"},
		{"nondeterministic", node.ResolverUpload{Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("C")}},
			refusedFor(laws.LawDeterminism), "refused with the determinism violation"},
		{"no samples", node.ResolverUpload{Module: wasm, Resolver: meta.Resolver{Config: []byte("M")}},
			invalid("samples"), "invalid samples"},
		{"too many samples", node.ResolverUpload{Module: wasm, Samples: tooMany, Resolver: meta.Resolver{Config: []byte("M")}},
			limit("max_samples"), "a max_samples limit error"},
		{"not WebAssembly", node.ResolverUpload{Module: []byte("hello"), Samples: fruit},
			invalid("module"), "invalid module"},
		{"too large", node.ResolverUpload{Module: make([]byte, resolvers.MaxModuleBytes+1), Samples: fruit},
			limit("max_module_bytes"), "a max_module_bytes limit error"},
		{"module and built-in", node.ResolverUpload{Module: wasm, Builtin: "lww", Samples: fruit},
			invalid("source"), "invalid source"},
		{"unknown built-in", node.ResolverUpload{Builtin: "nope"},
			invalid("builtin"), "invalid builtin"},
		{"bad deadline", node.ResolverUpload{Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("M"), WriteDeadline: -time.Second}},
			invalid("write_deadline_ms"), "invalid write_deadline_ms"},
		{"deadline over the cluster's cap", node.ResolverUpload{Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("M"), WriteDeadline: time.Hour}},
			limit("max_resolver_deadline_ms"), "a max_resolver_deadline_ms limit error"},
		{"memory over the cluster's cap", node.ResolverUpload{Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("M"), MemoryPages: 1025}},
			limit("max_resolver_memory_pages"), "a max_resolver_memory_pages limit error"},
		{"no such namespace", node.ResolverUpload{Namespace: "nope", Module: wasm, Samples: fruit, Resolver: meta.Resolver{Config: []byte("M")}},
			func(err error) bool { return errors.Is(err, errs.ErrNamespaceNotFound) }, "namespace not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := openLocal(t)
			if c.upload.Namespace == "" {
				c.upload.Namespace = "x"
			}
			_, _, err := n.ActivateResolver(t.Context(), c.upload)
			if !c.check(err) {
				t.Fatalf("ActivateResolver: %v, want %s", err, c.want)
			}
			if ns, _ := n.Namespace("x"); ns.Resolver != nil {
				t.Fatalf("a refused upload activated %+v", ns.Resolver)
			}
		})
	}
}

// TestActivateResolverActivatesALawfulModule: a module that passes the
// checks is activated with its report, named after its hash when the
// upload names it not, and merges siblings from then on.
func TestActivateResolverActivatesALawfulModule(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n := openLocal(t)
	wasm := mergesModule(t)
	ns, report, err := n.ActivateResolver(ctx, node.ResolverUpload{
		Namespace: "x", Module: wasm, Samples: byteValues("apple", "pear", "fig"),
		Resolver: meta.Resolver{Config: []byte("M"), Mode: meta.ModeOnWrite},
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Refused() || report.Builtin || report.Checked == 0 || len(report.Passed) == 0 {
		t.Errorf("report of a lawful module: %+v", report)
	}
	r := ns.Resolver
	if r == nil || r.Hash != node.ModuleHash(wasm) || r.Name != "sha256:"+r.Hash[:12] || r.ModuleBytes != uint64(len(wasm)) {
		t.Fatalf("resolver after activation: %+v", r)
	}
	for _, v := range []string{"apple", "pear", "fig"} { // blind writes: concurrent
		if _, err := n.Put(ctx, node.PutRequest{Namespace: "x", Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := n.Get(ctx, node.GetRequest{Namespace: "x", Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if sibs := res.Object.Siblings(); len(sibs) != 1 || string(sibs[0].Value) != "pear" {
		t.Fatalf("siblings after an on_write merge: %v, want the greatest value", sibs)
	}
	if ns, err := n.ClearResolver("x"); err != nil || ns.Resolver != nil {
		t.Fatalf("ClearResolver: %+v, %v", ns.Resolver, err)
	}
}

// TestBuiltinNeedsNoSamples: a built-in without samples is checked for its
// ABI only (its laws are tested with concord), and takes its own name.
func TestBuiltinNeedsNoSamples(t *testing.T) {
	t.Parallel()
	n := openLocal(t)
	ns, report, err := n.ActivateResolver(t.Context(), node.ResolverUpload{Namespace: "x", Builtin: "set-union"})
	if err != nil {
		t.Fatal(err)
	}
	if !report.Builtin || report.Refused() || !strings.Contains(report.String(), "built-in") {
		t.Errorf("report: %+v (%s)", report, report)
	}
	if ns.Resolver == nil || ns.Resolver.Name != "set-union" {
		t.Fatalf("resolver: %+v", ns.Resolver)
	}
}

// TestCheckResolverReportsWithoutActivating: a refused module is a report,
// not an error, and nothing is activated.
func TestCheckResolverReportsWithoutActivating(t *testing.T) {
	t.Parallel()
	n := openLocal(t)
	report, err := n.CheckResolver(t.Context(), node.ResolverUpload{Module: mergesModule(t), Samples: byteValues("a", "bb", "c"), Resolver: meta.Resolver{Config: []byte("F")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := report.ViolationOf(laws.LawOrderInsensitivity); !ok || !report.Refused() {
		t.Fatalf("report of an order-sensitive module: %s", report)
	}
	for _, ns := range n.Namespaces() {
		if ns.Resolver != nil {
			t.Fatalf("CheckResolver activated a resolver on %s", ns.Name)
		}
	}
}

// openLocal opens a single in-memory node with a namespace "x".
func openLocal(t *testing.T) *node.Node {
	t.Helper()
	n, err := node.Open(quiet(node.DefaultLocalConfig()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if _, err := n.CreateNamespace(meta.Namespace{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	return n
}

func refusedFor(l laws.Law) func(error) bool {
	return func(err error) bool {
		var re *node.ResolverRefusedError
		if !errors.As(err, &re) {
			return false
		}
		_, ok := re.Report.ViolationOf(l)
		return ok && strings.Contains(err.Error(), string(l))
	}
}

func invalid(field string) func(error) bool {
	return func(err error) bool {
		var ie *errs.InvalidError
		return errors.As(err, &ie) && ie.Field == field
	}
}

func limit(name string) func(error) bool {
	return func(err error) bool {
		var le *errs.LimitError
		return errors.As(err, &le) && le.Limit == name
	}
}
