package assemblyscript_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/guest/internal/guesttest"
)

// asModule compiles an AssemblyScript entry file with the compiler pinned in
// package-lock.json and the options of asconfig.json.
func asModule(src string) *guesttest.Module {
	return &guesttest.Module{Build: func(tb testing.TB, dir string) string {
		node := guesttest.Tool(tb, "node", "apt-get install -y nodejs npm (Node.js 20 or later)")
		asc := filepath.Join("node_modules", "assemblyscript", "bin", "asc.js")
		if _, err := os.Stat(asc); err != nil {
			tb.Fatalf("the AssemblyScript compiler is not installed (%v); run: cd resolvers/guest/assemblyscript && npm ci", err)
		}
		out := filepath.Join(dir, "resolver.wasm")
		guesttest.Run(tb, ".", nil, node, asc, src, "--config", "asconfig.json", "--outFile", out)
		return out
	}}
}

var (
	setUnion = asModule("example/setunion.ts")
	features = asModule("testdata/features.ts")
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

// TestFeatures checks config, log, defer, error, a throw (env.abort: a trap
// with the message) and an output over the cap.
func TestFeatures(t *testing.T) {
	t.Parallel()
	guesttest.CheckFeatures(t, features.Wasm(t), guesttest.Panic{Kind: resolvers.KindTrap, Text: "abort: boom"})
}
