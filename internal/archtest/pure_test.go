package archtest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// purePackages are the deterministic cores (STYLE.md, habit 1): they take no
// context, start no goroutines, do no IO and never read the clock; the
// caller passes time and messages in. Each may import the standard library
// (minus impureStd), third-party code that passes the same check, and the
// project packages in may, which must be pure too. Adding a core is one
// line; a listed package that does not exist fails the test, so a rename
// cannot switch the check off.
//
// Not listed:
//   - engine/actor: book.go keeps the sequence lease and the partition
//     floors in a storage.Engine, so the package imports engine/storage.
//     Its pure part (incarnation names, lease arithmetic) shares unexported
//     state with the book; it becomes listable when it moves to a package
//     of its own.
//   - engine/aae: the exchange scheduler runs goroutines, takes contexts
//     and reads the clock; its TicTac tree is engine/aae/tictac.
//   - engine/coord: the quorum trackers (tracker*.go) are pure, but they
//     share the package with the coordinator, which runs goroutines and
//     timeouts; coord's TestTrackersArePure checks the imports of their
//     files (docs/architecture.md says why they stay there).
var purePackages = []struct {
	path string   // module-relative
	may  []string // project packages it may import, each listed here too
}{
	{"engine/dvv", nil},
	{"engine/ring", nil},
	{"engine/keys", nil},
	{"engine/handoff", []string{"engine/ring"}},
	{"engine/aae/tictac", nil},
	{"engine/purge", []string{"engine/dvv"}},
	{"engine/nsstats", nil},
	{"resolvers/abi", nil},
	{"internal/bench/ycsb", nil},
}

// impureStd are the standard packages (and, ending in "/", package trees)
// that do IO, read randomness or carry contexts and loggers. Package time
// is allowed for its types (a duration, an instant the caller passes in);
// reading the clock and timers is caught by the source scan (clockFuncs).
var impureStd = []string{
	"context",
	"crypto/rand",
	"io/fs",
	"io/ioutil",
	"log", "log/",
	"math/rand", "math/rand/v2",
	"net", "net/",
	"os", "os/",
	"path/filepath",
	"syscall",
}

// auditedThirdParty are third-party packages that import an impureStd
// package only on paths a pure package never takes. The walk stops at them.
var auditedThirdParty = map[string]string{
	"github.com/klauspost/cpuid/v2": "xxh3 (engine/keys) detects CPU features with it at init; its os and flag use is in Flags and Detect, opt-in helpers no one calls",
}

// clockFuncs read the wall or monotonic clock or start timers.
var clockFuncs = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

func impure(imp string) bool {
	for _, f := range impureStd {
		if imp == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
			return true
		}
	}
	return false
}

func TestPurePackagesStayPure(t *testing.T) {
	t.Parallel()
	g := mustGraph(t)
	listed := map[string]bool{}
	for _, pp := range purePackages {
		listed[pp.path] = true
	}
	for _, pp := range purePackages {
		t.Run(strings.ReplaceAll(pp.path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			root, ok := g[module+"/"+pp.path]
			if !ok {
				t.Fatalf("%s is listed as pure but does not exist: update purePackages", pp.path)
			}
			for _, m := range pp.may {
				if !listed[m] {
					t.Errorf("%s may import %s, which is not listed as pure", pp.path, m)
				}
			}
			checkPureImports(t, g, root, pp.may)
			for _, f := range root.files() {
				checkPureSource(t, pp.path, f)
			}
		})
	}
}

// checkPureImports walks the imports of root and, transitively, of the
// third-party packages it reaches, and reports impure standard imports and
// project packages that root may not use. The project packages it may use
// are pure themselves and checked by their own rows.
func checkPureImports(t *testing.T, g graph, root pkg, may []string) {
	t.Helper()
	seen := map[string]bool{root.ImportPath: true}
	queue := []string{root.ImportPath}
	for len(queue) > 0 {
		p := g[queue[0]]
		queue = queue[1:]
		for _, imp := range p.Imports {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			dep := g[imp]
			switch {
			case dep.Standard && impure(imp):
				t.Errorf("%s reaches %s (%s): pure packages do no IO, use no randomness and take no context", short(root.ImportPath), imp, g.path(root.ImportPath, imp))
			case dep.Standard, auditedThirdParty[imp] != "":
			case dep.rel() != "" && !slices.Contains(may, dep.rel()):
				t.Errorf("%s reaches %s (%s): pure packages import only the project packages listed with them", short(root.ImportPath), short(imp), g.path(root.ImportPath, imp))
			case dep.rel() != "":
				// A pure package of its own: its row checks it.
			default:
				queue = append(queue, imp)
			}
		}
	}
}

// checkPureSource reports goroutines and clock reads in one file.
func checkPureSource(t *testing.T, pkgPath, file string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	timeName := ""
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	if timeName == "." {
		t.Errorf("%s: dot-imports time, which hides clock reads from this check", fset.Position(f.Package))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s: a go statement in %s: pure packages start no goroutines", fset.Position(n.Pos()), pkgPath)
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && timeName != "" && x.Name == timeName && slices.Contains(clockFuncs, n.Sel.Name) {
				t.Errorf("%s: time.%s in %s: pure packages never read the clock; take the time as an argument", fset.Position(n.Pos()), n.Sel.Name, pkgPath)
			}
		}
		return true
	})
}
