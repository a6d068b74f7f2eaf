package builtin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers"
)

// FuzzJSONBuiltins feeds arbitrary bytes to the three JSON built-ins. None
// may trap or time out; invalid JSON must be an ERROR; anything accepted
// must come out as valid JSON that is a fixpoint of the merge.
func FuzzJSONBuiltins(f *testing.F) {
	for _, seed := range append(notJSON,
		`["a","b"]`, `{"p":{"a":1},"n":{}}`, `{"items":{"a":{"t":1}},"removed":["x"]}`,
		`["\ud83d\ude00","\u00e9"]`, `{"p":{"a":9007199254740991}}`, ` [ ] `, ``) {
		f.Add(seed)
	}
	modules := []string{"set-union", "counter", "shopping-cart"}
	pools := map[string]*resolvers.Pool{}
	for _, m := range modules {
		pools[m] = newPool(f, m)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, m := range modules {
			got := resolve(t, pools[m], values(value))
			switch {
			case strings.HasPrefix(got, "unexpected failure"):
				t.Fatalf("%s(%q): %s", m, value, got)
			case got == "ERROR":
				continue
			case len(value) > 0 && !json.Valid([]byte(value)):
				t.Fatalf("%s accepted invalid JSON %q as %q", m, value, got)
			case !json.Valid([]byte(got)):
				t.Fatalf("%s(%q) = %q: not JSON", m, value, got)
			}
			if again := resolve(t, pools[m], values(got)); again != got {
				t.Fatalf("%s: %q is not a fixpoint: merged alone it gives %q", m, got, again)
			}
		}
	})
}
