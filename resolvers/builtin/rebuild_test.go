package builtin_test

import (
	"bytes"
	"cmp"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const installHint = "install the toolchain the committed modules were built with: apt-get install clang lld (Debian bookworm: clang 14)"

// TestBuiltinsAreRebuiltFromSource runs build.sh into a temporary directory
// and requires the committed wasm/ files to be byte for byte its output. It
// does not skip: without clang it fails with how to install it.
func TestBuiltinsAreRebuiltFromSource(t *testing.T) {
	t.Parallel()
	clang := cmp.Or(os.Getenv("CLANG"), "clang")
	if _, err := exec.LookPath(clang); err != nil {
		t.Fatalf("%s not found (%v): %s", clang, err, installHint)
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		t.Fatalf("wasm-ld not found (%v): %s", err, installHint)
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "bash", "build.sh", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s\n%s", err, msg, installHint)
	}

	committed, rebuilt := readDir(t, "wasm"), readDir(t, out)
	if c, r := committed["TOOLCHAIN"], rebuilt["TOOLCHAIN"]; !bytes.Equal(c, r) {
		t.Fatalf("the committed modules were built with %q, this machine has %q: %s", strings.TrimSpace(string(c)), strings.TrimSpace(string(r)), installHint)
	}
	names := slices.Sorted(maps.Keys(maps.Collect(func(yield func(string, []byte) bool) {
		maps.All(committed)(yield)
		maps.All(rebuilt)(yield)
	})))
	for _, name := range names {
		c, inCommitted := committed[name]
		r, inRebuilt := rebuilt[name]
		switch {
		case !inRebuilt:
			t.Errorf("wasm/%s is committed but build.sh does not make it: delete it", name)
		case !inCommitted:
			t.Errorf("build.sh makes %s, which is not committed: run ./build.sh and commit wasm/", name)
		case !bytes.Equal(c, r):
			t.Errorf("wasm/%s differs from what src/ builds to (%d bytes committed, %d rebuilt): run ./build.sh and commit wasm/", name, len(c), len(r))
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
