package laws_test

import (
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/builtin"
	"github.com/concord-kv/concord/resolvers/laws"
)

// The built-in resolvers are pure merges: they must pass every law.
func TestBuiltinsObeyEveryLaw(t *testing.T) {
	t.Parallel()
	samples := map[string][]laws.Sample{
		"lww":           texts("red", "green", "", "blue"),
		"set-union":     texts(`["a","b"]`, `["b"]`, `[]`, `["c", "a"]`),
		"counter":       texts(`{"p":{"n1":3}}`, `{"p":{"n1":5},"n":{"n2":1}}`, `{}`, `{"p":{"n2":2}}`),
		"shopping-cart": texts(`{"items":{"apple":{"t1":2}}}`, `{"items":{"apple":{"t1":2}},"removed":["t1"]}`, `{"items":{"pear":{"t2":1}}}`, `{}`),
	}
	for _, name := range builtin.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, ok := samples[name]
			if !ok {
				t.Fatalf("no samples for built-in %q: add some", name)
			}
			wasm, _ := builtin.Module(name)
			mod, err := rt.Compile(t.Context(), wasm)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = mod.Close(t.Context()) })
			r, err := laws.Check(t.Context(), rt, mod, s, laws.Options{Namespace: "test", MaxInputs: 32, Limits: resolvers.Limits{Deadline: time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Violations) > 0 || len(r.Passed) != len(laws.Laws()) {
				t.Errorf("built-in %s:\n%s", name, r)
			}
		})
	}
}
