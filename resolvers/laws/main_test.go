package laws_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/laws"
)

// rt and merges are shared by every test: testdata/merges.wat, built and
// compiled once. Its merge is chosen by the namespace's config (see the
// file's header), so each mode below stands for a module.
var (
	rt     *resolvers.Runtime
	merges *resolvers.Module
)

// Modes of merges.wat.
const (
	lawful        = "M" // greatest value by bytes: obeys every law
	first         = "F" // the first sibling: order-sensitive
	counting      = "C" // changes its output after an instance's first call
	bag           = "B" // all bytes sorted: not idempotent
	mean          = "A" // "x" times the mean length: not associative
	fragile       = "X" // traps on "!...", loops on "~..."
	alwaysFailing = "?" // unknown mode: ERROR on every call
)

// TestMain builds testdata/merges.wat with wat2wasm (Debian package "wabt").
// WebAssembly fixtures are built from source, never downloaded.
func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "laws tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = rt.Close(context.Background())
	os.Exit(code)
}

func setup() error {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		return errors.New("wat2wasm not found in PATH; install it (apt-get install wabt) to build testdata/merges.wat")
	}
	dir, err := os.MkdirTemp("", "concord-laws-wasm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "merges.wasm")
	if msg, err := exec.Command(wat2wasm, filepath.Join("testdata", "merges.wat"), "-o", out).CombinedOutput(); err != nil {
		return fmt.Errorf("wat2wasm testdata/merges.wat: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if rt, err = resolvers.NewRuntime(ctx, resolvers.Options{}); err != nil {
		return err
	}
	if merges, err = rt.Compile(ctx, wasm); err != nil {
		return fmt.Errorf("compile testdata/merges.wat: %w", err)
	}
	return nil
}

// check runs laws.Check on merges.wat in a mode. Unless opts sets one, the
// deadline is a generous second, so that a loaded machine cannot turn a
// slow call into an ABI violation.
func check(t testing.TB, mode string, samples []laws.Sample, opts laws.Options) laws.Report {
	t.Helper()
	opts.Namespace, opts.Config = "test", []byte(mode)
	if opts.Limits.Deadline == 0 {
		opts.Limits.Deadline = time.Second
	}
	r, err := laws.Check(t.Context(), rt, merges, samples, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return r
}

// newPool returns a pool of merges.wat in a mode, closed when the test ends.
func newPool(t testing.TB, mode string) *resolvers.Pool {
	t.Helper()
	p := resolvers.NewPool(merges, "test", []byte(mode), resolvers.Limits{Deadline: time.Second}, resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// result is one resolve call's outcome as a violation shows it: the merged
// value for OK (non-nil), nil otherwise, and the error.
type result struct {
	value  []byte
	status abi.Status
	err    error
}

func resolve(t testing.TB, p *resolvers.Pool, sibs []abi.Sibling) result {
	t.Helper()
	res, err := p.Resolve(t.Context(), abi.Input{Key: []byte("k"), Siblings: sibs})
	if res.Status == abi.StatusOK && err == nil && res.Value == nil {
		res.Value = []byte{}
	}
	return result{res.Value, res.Status, err}
}

// siblings rebuilds a violation's input.
func siblings(v laws.Violation) []abi.Sibling {
	sibs := make([]abi.Sibling, len(v.Input))
	for i := range sibs {
		sibs[i] = abi.Sibling{Value: v.Input[i], Tombstone: v.Tombstones[i], Timestamp: v.Timestamps[i]}
	}
	return sibs
}

// merged feeds a result back as a sibling, as the server stores it.
func merged(r result, from []abi.Sibling) abi.Sibling {
	ts := slices.MaxFunc(from, func(a, b abi.Sibling) int { return cmp.Compare(a.Timestamp, b.Timestamp) }).Timestamp
	return abi.Sibling{Value: r.value, Tombstone: r.status == abi.StatusDelete, Timestamp: ts}
}

func texts(vs ...string) []laws.Sample {
	s := make([]laws.Sample, len(vs))
	for i, v := range vs {
		s[i] = laws.Sample(v)
	}
	return s
}
