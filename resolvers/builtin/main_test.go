package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/builtin"
)

// rt and compiled are shared by every test: each built-in is compiled once.
var (
	rt       *resolvers.Runtime
	compiled = map[string]*resolvers.Module{}
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if rt, err = resolvers.NewRuntime(ctx, resolvers.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "builtin tests:", err)
		os.Exit(1)
	}
	for _, name := range builtin.Names() {
		wasm, _ := builtin.Module(name)
		if compiled[name], err = rt.Compile(ctx, wasm); err != nil {
			fmt.Fprintf(os.Stderr, "builtin tests: compile %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = rt.Close(ctx)
	os.Exit(code)
}

// newPool returns a pool of a built-in, closed when the test ends. Its
// breaker never opens: tests provoke guest errors on purpose.
func newPool(t testing.TB, name string) *resolvers.Pool {
	t.Helper()
	m, ok := compiled[name]
	if !ok {
		t.Fatalf("no built-in %q", name)
	}
	p := resolvers.NewPool(m, "test", nil, resolvers.Limits{Deadline: time.Second}, resolvers.WithBreaker(resolvers.BreakerNeverOpens()))
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// outcome renders a call's result: the merged value for OK, the status name
// for DELETE and DEFER, "ERROR" for a guest error, and anything else as a
// failure the tests do not expect.
func outcome(res resolvers.Result, err error) string {
	var ce *resolvers.CallError
	switch {
	case errors.As(err, &ce) && ce.Kind == resolvers.KindGuestError:
		return "ERROR"
	case err != nil:
		return "unexpected failure: " + err.Error()
	case res.Status == abi.StatusOK:
		return string(res.Value)
	}
	return res.Status.String()
}

func resolve(t testing.TB, p *resolvers.Pool, siblings []abi.Sibling) string {
	t.Helper()
	return outcome(p.Resolve(context.Background(), abi.Input{Key: []byte("k"), Siblings: siblings}))
}

// live and tomb make siblings.
func live(ts int64, value string) abi.Sibling {
	return abi.Sibling{Value: []byte(value), Timestamp: ts}
}

func tomb(ts int64) abi.Sibling { return abi.Sibling{Tombstone: true, Timestamp: ts} }

// values makes live siblings at timestamp 1.
func values(vs ...string) []abi.Sibling {
	s := make([]abi.Sibling, len(vs))
	for i, v := range vs {
		s[i] = live(1, v)
	}
	return s
}
