package rust_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/guest/internal/guesttest"
)

const installRust = "apt-get install -y rustc libstd-rust-dev-wasm32 (Debian's rustc, /usr/bin/rustc), " +
	"or rustup target add wasm32-unknown-unknown; set RUSTC to pick a rustc"

// rustc returns a rustc that has the wasm32-unknown-unknown standard library:
// $RUSTC, /usr/bin/rustc (Debian), or the one in PATH (rustup), in that order.
func rustc(tb testing.TB) string {
	tb.Helper()
	var tried []string
	for _, c := range []string{os.Getenv("RUSTC"), "/usr/bin/rustc", "rustc"} {
		if c == "" {
			continue
		}
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		sysroot, err := exec.Command(path, "--print", "sysroot").Output()
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(sysroot)), "lib", "rustlib", "wasm32-unknown-unknown")); err == nil {
			return path
		}
		tried = append(tried, path)
	}
	tb.Fatalf("no rustc with the wasm32-unknown-unknown target (tried %v); install it: %s", tried, installRust)
	return ""
}

// The flags of the example's release profile (Cargo.toml), so that the test
// builds what cargo builds, without needing cargo.
var (
	wasmFlags = []string{"--edition", "2021", "--target", "wasm32-unknown-unknown", "-C", "opt-level=s", "-C", "panic=abort"}
	linkFlags = []string{"-C", "lto", "-C", "codegen-units=1", "-C", "strip=symbols"}
)

// rustModule builds the concord-guest crate and then the cdylib at src.
func rustModule(src string) *guesttest.Module {
	return &guesttest.Module{Build: func(tb testing.TB, dir string) string {
		rc := rustc(tb)
		guesttest.Run(tb, ".", nil, rc, slices.Concat(wasmFlags,
			[]string{"--crate-type", "rlib", "--crate-name", "concord_guest", "--out-dir", dir, "src/lib.rs"})...)
		out := filepath.Join(dir, "resolver.wasm")
		guesttest.Run(tb, ".", nil, rc, slices.Concat(wasmFlags, linkFlags, []string{"--crate-type", "cdylib", "--crate-name", "resolver",
			"--extern", "concord_guest=" + filepath.Join(dir, "libconcord_guest.rlib"), "-o", out, src})...)
		return out
	}}
}

var (
	setUnion = rustModule("example/setunion/src/lib.rs")
	features = rustModule("testdata/features/lib.rs")
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

// TestFeatures checks config, log, Defer, Error, a panic (logged, then a
// trap) and an output over the cap.
func TestFeatures(t *testing.T) {
	t.Parallel()
	guesttest.CheckFeatures(t, features.Wasm(t), guesttest.Panic{Kind: resolvers.KindTrap, Text: "resolver panicked: boom"})
}

// TestUnit runs the crate's own unit tests (the frame decoder), natively.
func TestUnit(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "unit")
	rc := rustc(t)
	guesttest.Run(t, ".", nil, rc, "--edition", "2021", "--test", "-o", bin, "src/lib.rs")
	guesttest.Run(t, ".", nil, bin)
}
