package archtest_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/concord-kv/concord"

// pkg is one package as `go list -json` describes it.
type pkg struct {
	ImportPath string
	Dir        string
	Standard   bool
	GoFiles    []string // non-test files of the current build
	CgoFiles   []string
	Imports    []string // direct imports of GoFiles and CgoFiles
	Deps       []string // every package reached, directly or not
}

// rel is p's path inside the module, "" for a package outside it.
func (p pkg) rel() string {
	if p.ImportPath == module {
		return "."
	}
	r, ok := strings.CutPrefix(p.ImportPath, module+"/")
	if !ok {
		return ""
	}
	return r
}

// files returns the absolute paths of p's non-test Go files.
func (p pkg) files() []string {
	var out []string
	for _, f := range slices.Concat(p.GoFiles, p.CgoFiles) {
		out = append(out, filepath.Join(p.Dir, f))
	}
	return out
}

// graph is the import graph of the module's packages and of everything they
// import, standard library included.
type graph map[string]pkg

// loadGraph runs `go list -deps -json` once per test binary.
var loadGraph = sync.OnceValues(func() (graph, error) {
	cmd := exec.Command("go", "list", "-deps",
		"-json=ImportPath,Dir,Standard,GoFiles,CgoFiles,Imports,Deps", module+"/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := graph{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			_ = cmd.Wait()
			return nil, err
		}
		g[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		return nil, errors.New("go list: " + err.Error() + ": " + stderr.String())
	}
	return g, nil
})

func mustGraph(t *testing.T) graph {
	t.Helper()
	g, err := loadGraph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// under reports whether the module-relative path rel is prefix or inside
// it. The empty prefix holds every package of the module.
func under(rel, prefix string) bool {
	return prefix == "" || rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

// modulePkgs returns the module's packages under prefix, sorted.
func (g graph) modulePkgs(prefix string) []pkg {
	var out []pkg
	for _, p := range g {
		if r := p.rel(); r != "" && under(r, prefix) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return out
}

// path returns a shortest import chain from one package to another, for
// error messages: "engine/a → engine/b → os".
func (g graph) path(from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var chain []string
			for p := to; p != ""; p = prev[p] {
				chain = append(chain, short(p))
			}
			slices.Reverse(chain)
			return strings.Join(chain, " → ")
		}
		for _, imp := range g[cur].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return short(from) + " → … → " + short(to)
}

// short drops the module path from an import path.
func short(path string) string {
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}
