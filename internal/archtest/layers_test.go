package archtest_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// engineLayers is the request path inside engine/, bottom first: a package
// of one layer never depends, directly or not, on a later layer. A Put runs
// node → front → coord → replica → storage, and to other nodes through
// peer. A layer is a package tree: engine/node holds the node's parts
// (nodeParts), which sit at its layer.
var engineLayers = []string{
	"engine/storage",
	"engine/replica",
	"engine/coord",
	"engine/peer",
	"engine/node",
}

// rule: the module's packages under from (except those under except) never
// depend, directly or not, on a package under any of not.
type rule struct {
	from   string
	except []string
	not    []string
	why    string
}

// oneWay is the direction of imports across the module: cmd → internal →
// engine → resolvers, and the SDK beside them sharing only the generated API.
var oneWay = []rule{
	{from: "engine", not: []string{"internal", "cmd", "sdk", "examples"}, why: "imports point cmd → internal → engine"},
	{from: "resolvers", not: []string{"engine", "internal", "cmd", "sdk", "examples"}, why: "the resolver runtime sits below the engine"},
	{from: "sdk", not: []string{"engine", "internal", "cmd", "resolvers", "examples"}, why: "the SDK is a client: it shares only the generated API with the server"},
	{from: "proto", not: []string{"engine", "internal", "cmd", "sdk", "resolvers", "examples"}, why: "generated code depends on nothing of the project"},
	{from: "internal", not: []string{"cmd"}, why: "imports point cmd → internal"},
	// examples/ is excepted: the shopping-cart demo partitions a cluster
	// running in its own process, which only internal/clustertest can do.
	{from: "", except: []string{"internal", "cmd", "examples"}, not: []string{"internal"}, why: "internal/ is the server's private code, reached only from cmd/ and internal/"},
	{from: "", except: []string{"cmd"}, not: []string{"cmd"}, why: "commands are leaves"},
}

// layerRules turns engineLayers into rules.
func layerRules() []rule {
	var out []rule
	for i, l := range engineLayers[:len(engineLayers)-1] {
		out = append(out, rule{from: l, not: engineLayers[i+1:], why: "engine layers: " + strings.Join(engineLayers, " ← ")})
	}
	return out
}

func TestImportsPointOneWay(t *testing.T) {
	t.Parallel()
	g := mustGraph(t)
	for _, r := range slices.Concat(oneWay, layerRules()) {
		for _, prefix := range append([]string{r.from}, r.not...) {
			if len(g.modulePkgs(prefix)) == 0 {
				t.Errorf("rule %q names %q, which holds no package: update the rule", r.from, prefix)
			}
		}
		for _, p := range g.modulePkgs(r.from) {
			if slices.ContainsFunc(r.except, func(e string) bool { return under(p.rel(), e) }) {
				continue
			}
			for _, dep := range p.Deps {
				d := g[dep].rel()
				if d == "" || under(d, r.from) && r.from != "" {
					continue // outside the module, or inside the rule's own tree
				}
				for _, f := range r.not {
					if under(d, f) {
						t.Errorf("%s depends on %s (%s): %s", p.rel(), d, g.path(p.ImportPath, dep), r.why)
					}
				}
			}
		}
	}
}

// wire: inside within, only the packages under only import packages under
// imports (directly; their importers reach them through only).
var wire = []struct {
	within  string
	imports string
	only    []string
}{
	{within: "engine", imports: "connectrpc.com", only: []string{"engine/peer"}},
	{within: "engine", imports: module + "/proto/gen", only: []string{"engine/peer"}},
	{within: "", imports: module + "/engine/peer/internal/peerpb", only: []string{"engine/peer"}},
	{within: "", imports: module + "/proto/gen/concord/peer", only: nil}, // the peer protocol left the public module
}

func TestOnlyPeerTouchesTheWire(t *testing.T) {
	t.Parallel()
	g := mustGraph(t)
	for _, w := range wire {
		for _, p := range g.modulePkgs(w.within) {
			if slices.ContainsFunc(w.only, func(o string) bool { return under(p.rel(), o) }) {
				continue
			}
			for _, file := range p.files() {
				relFile := filepath.ToSlash(filepath.Join(p.rel(), filepath.Base(file)))
				for _, imp := range fileImports(t, file) {
					if imp != w.imports && !strings.HasPrefix(imp, w.imports+"/") {
						continue
					}
					t.Errorf("%s imports %s: only %s may speak the wire; use engine/peer's domain types", relFile, short(imp), strings.Join(w.only, ", "))
				}
			}
		}
	}
}

// fileImports returns the import paths of one Go file.
func fileImports(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", file, err))
		}
		out = append(out, path)
	}
	return out
}
