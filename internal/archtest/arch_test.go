package archtest_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/concord-kv/concord"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs `go list -json` over the module.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// pure packages do no IO, read no clock and import nothing of the project
// except the packages listed with them.
var pure = map[string][]string{
	"engine/dvv":    nil,
	"engine/ring":   nil,
	"engine/keys":   nil,
	"resolvers/abi": nil,
}

var impure = []string{"os", "net", "net/http", "syscall", "context", "time", "os/exec", "io/fs", "math/rand", "math/rand/v2", "crypto/rand"}

func TestPurePackagesStayPure(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	for rel, allowed := range pure {
		p, ok := pkgs[module+"/"+rel]
		if !ok {
			continue // not written yet
		}
		for _, imp := range p.Imports {
			if slices.Contains(impure, imp) {
				t.Errorf("%s imports %s: pure packages do no IO and read no clock", rel, imp)
			}
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, module+"/") && !slices.Contains(allowed, strings.TrimPrefix(dep, module+"/")) {
				t.Errorf("%s depends on %s: pure packages import nothing of the project", rel, dep)
			}
		}
	}
}

// TestImportsPointOneWay: cmd → internal → engine → resolvers; the SDK and
// resolvers never reach into the engine or internal.
func TestImportsPointOneWay(t *testing.T) {
	t.Parallel()
	rules := []struct {
		from      string
		forbidden []string
	}{
		{"engine/", []string{"internal/", "cmd/", "sdk/"}},
		{"resolvers/", []string{"engine/", "internal/", "cmd/", "sdk/"}},
		{"sdk/", []string{"engine/", "internal/", "cmd/", "resolvers/"}},
		{"internal/", []string{"cmd/"}},
	}
	for path, p := range listPackages(t) {
		rel := strings.TrimPrefix(path, module+"/")
		for _, r := range rules {
			if !strings.HasPrefix(rel, r.from) {
				continue
			}
			for _, dep := range p.Deps {
				for _, f := range r.forbidden {
					if strings.HasPrefix(dep, module+"/"+f) {
						t.Errorf("%s depends on %s (%s must not reach %s)", rel, strings.TrimPrefix(dep, module+"/"), r.from, f)
					}
				}
			}
		}
	}
}
