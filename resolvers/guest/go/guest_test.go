package guest_test

import (
	"path/filepath"
	"testing"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/guest/internal/guesttest"
)

// goModule builds a main package of this directory as a WASI reactor, the
// way a resolver author does (README.md).
func goModule(pkg string) *guesttest.Module {
	return &guesttest.Module{Build: func(tb testing.TB, dir string) string {
		goTool := guesttest.Tool(tb, "go", "Go 1.24 or later (go:wasmexport)")
		out := filepath.Join(dir, "resolver.wasm")
		guesttest.Run(tb, ".", []string{"GOOS=wasip1", "GOARCH=wasm"}, goTool, "build", "-buildmode=c-shared", "-o", out, pkg)
		return out
	}}
}

var (
	setUnion = goModule("./example/setunion")
	features = goModule("./testdata/features")
)

func TestSetUnion(t *testing.T) {
	t.Parallel()
	guesttest.CheckSetUnion(t, setUnion.Wasm(t))
}

func BenchmarkSetUnion(b *testing.B) {
	guesttest.BenchSetUnion(b, setUnion.Wasm(b))
}

func BenchmarkSetUnionLarge(b *testing.B) {
	guesttest.BenchSetUnionLarge(b, setUnion.Wasm(b))
}

// TestFeatures checks Config (read in package init), Log, Defer, Fail, the
// recovery of a panic (ERROR, with the panic on stderr) and an output over
// the cap.
func TestFeatures(t *testing.T) {
	t.Parallel()
	guesttest.CheckFeatures(t, features.Wasm(t), guesttest.Panic{Kind: resolvers.KindGuestError, Text: "panic: boom"})
}
