package guesttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Tool returns the path of the executable name (a bare name is looked up in
// PATH) or fails the test, telling how to install it.
func Tool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found (%v); install it: %s", name, err, install)
	}
	return path
}

// Run runs the command in dir with env added to the test's environment, and
// fails the test with its output if it fails.
func Run(tb testing.TB, dir string, env []string, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s (in %s): %v\n%s", filepath.Base(name), strings.Join(args, " "), dir, err, out)
	}
}

// Module builds a WebAssembly module once per test binary, however many
// tests and benchmarks ask for it.
type Module struct {
	// Build writes the module into dir (a fresh temporary directory) and
	// returns its path. It fails tb if the build fails.
	Build func(tb testing.TB, dir string) string

	once sync.Once
	wasm []byte
}

// Wasm returns the module's bytes, building it on first use.
func (m *Module) Wasm(tb testing.TB) []byte {
	tb.Helper()
	m.once.Do(func() {
		path := m.Build(tb, tb.TempDir())
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("reading the built module: %v", err)
		}
		m.wasm = b
	})
	if m.wasm == nil {
		tb.Fatal("the module failed to build (see the first test that failed)")
	}
	return m.wasm
}
