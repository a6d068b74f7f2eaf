package resolvers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers"
)

// modules holds the test modules, built from testdata/*.wat by TestMain.
var modules = map[string][]byte{}

// shared is a runtime most tests share, and compiled its modules (the valid
// ones), so parallel tests do not all compile the same code: compilation is
// CPU-heavy, and CPU starvation is what makes a 20 ms deadline flaky.
var (
	shared   *resolvers.Runtime
	compiled = map[string]*resolvers.Module{}
)

// TestMain builds every testdata/*.wat with wat2wasm (Debian package
// "wabt"). WebAssembly fixtures are built from source, never downloaded.
func TestMain(m *testing.M) {
	if err := buildModules(); err != nil {
		fmt.Fprintln(os.Stderr, "resolvers tests:", err)
		os.Exit(1)
	}
	if err := compileShared(); err != nil {
		fmt.Fprintln(os.Stderr, "resolvers tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = shared.Close(context.Background())
	os.Exit(code)
}

func compileShared() error {
	ctx := context.Background()
	var err error
	if shared, err = resolvers.NewRuntime(ctx, resolvers.Options{}); err != nil {
		return err
	}
	for _, name := range []string{"longest", "hostile", "big_memory", "runaway", "start_loop", "slow_init"} {
		if compiled[name], err = shared.Compile(ctx, modules[name]); err != nil {
			return fmt.Errorf("compile %s: %w", name, err)
		}
	}
	return nil
}

func buildModules() error {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		return fmt.Errorf("wat2wasm not found in PATH; install it (apt-get install wabt) to build the test modules in testdata/")
	}
	sources, err := filepath.Glob(filepath.Join("testdata", "*.wat"))
	if err != nil || len(sources) == 0 {
		return fmt.Errorf("no testdata/*.wat found (%v)", err)
	}
	dir, err := os.MkdirTemp("", "concord-resolvers-wasm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, src := range sources {
		name := strings.TrimSuffix(filepath.Base(src), ".wat")
		out := filepath.Join(dir, name+".wasm")
		if msg, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			return fmt.Errorf("wat2wasm %s: %v\n%s", src, err, msg)
		}
		if modules[name], err = os.ReadFile(out); err != nil {
			return err
		}
	}
	return nil
}

func wasmOf(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := modules[name]
	if !ok {
		t.Fatalf("no test module %q in testdata", name)
	}
	return b
}

// newRuntime returns a runtime closed when the test ends.
func newRuntime(t testing.TB, opts resolvers.Options) *resolvers.Runtime {
	t.Helper()
	rt, err := resolvers.NewRuntime(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	return rt
}

// compile returns a valid test module, compiled in the shared runtime.
func compile(t testing.TB, name string) *resolvers.Module {
	t.Helper()
	m, ok := compiled[name]
	if !ok {
		t.Fatalf("no compiled test module %q", name)
	}
	return m
}

// newPool makes a pool of a test module, closed when the test ends.
func newPool(t testing.TB, name, namespace string, config []byte, limits resolvers.Limits, opts ...resolvers.PoolOption) *resolvers.Pool {
	t.Helper()
	p := resolvers.NewPool(compile(t, name), namespace, config, limits, opts...)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}
