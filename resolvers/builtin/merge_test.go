package builtin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers/abi"
)

// mergeCase is one resolve call of a built-in and its expected outcome (see
// outcome): the merged value, "DELETE", "DEFER" or "ERROR".
type mergeCase struct {
	name     string
	siblings []abi.Sibling
	want     string
}

func runMergeCases(t *testing.T, module string, cases []mergeCase) {
	t.Helper()
	t.Parallel()
	p := newPool(t, module)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Every rotation of the siblings gives the same outcome.
			for i := range max(1, len(c.siblings)) {
				rotated := append(append([]abi.Sibling{}, c.siblings[i:]...), c.siblings[:i]...)
				if got := resolve(t, p, rotated); got != c.want {
					t.Fatalf("siblings rotated by %d: got %s, want %s", i, got, c.want)
				}
			}
		})
	}
}

// Shared by the three JSON built-ins: what every one of them must refuse
// (besides values of the wrong shape, tested per built-in).
var notJSON = []string{
	`{`, `[`, `"`, `[1,]`, `{"p":{},}`, `[,]`, `[] []`, `nul`, `[]x`,
	"\"\x01\"", `"\x"`, `"\u12"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`,
	"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
}

func TestLWW(t *testing.T) {
	runMergeCases(t, "lww", []mergeCase{
		{"no siblings", nil, "DEFER"},
		{"one", []abi.Sibling{live(5, "a")}, "a"},
		{"latest wins", []abi.Sibling{live(1, "zzz"), live(3, "b"), live(2, "c")}, "b"},
		{"tie: larger bytes", []abi.Sibling{live(3, "ab"), live(3, "b"), live(1, "zz")}, "b"},
		{"tie: longer prefix", []abi.Sibling{live(3, "ab"), live(3, "a")}, "ab"},
		{"latest tombstone", []abi.Sibling{live(1, "a"), tomb(2)}, "DELETE"},
		{"tombstone older", []abi.Sibling{tomb(1), live(2, "a")}, "a"},
		{"tie: value beats tombstone", []abi.Sibling{tomb(2), live(2, "a")}, "a"},
		{"tie: tombstone beats empty", []abi.Sibling{tomb(2), live(2, "")}, "DELETE"},
		{"empty value", []abi.Sibling{live(3, ""), live(2, "a")}, ""},
		{"negative timestamps", []abi.Sibling{live(-5, "a"), live(-7, "b")}, "a"},
		{"binary", []abi.Sibling{live(1, "\x00\xff"), live(1, "\x00\xfe\xff")}, "\x00\xff"},
		{"only tombstones", []abi.Sibling{tomb(1), tomb(9)}, "DELETE"},
	})
}

func TestSetUnion(t *testing.T) {
	cases := []mergeCase{
		{"no siblings", nil, "DEFER"},
		{"one, canonicalized", values(` [ "b" , "a","b" ] `), `["a","b"]`},
		{"union", values(`["go","wasm"]`, `["c","go"]`, `[]`), `["c","go","wasm"]`},
		{"empty arrays", values(`[]`, `[]`), `[]`},
		{"empty value is the empty set", values(``, `["a"]`), `["a"]`},
		{"only empty values", values(``), `[]`},
		{"tombstones contribute nothing", []abi.Sibling{tomb(1), live(1, `["a"]`), tomb(2)}, `["a"]`},
		{"only tombstones", []abi.Sibling{tomb(1), tomb(2)}, "DELETE"},
		{"escapes decoded, duplicates found", values(`["\u0061","a","\/"]`), `["/","a"]`},
		{"escapes printed", values(`["q\"b\\s\n\t\u0001\u007f"]`), `["q\"b\\s\n\t\u0001` + "\x7f" + `"]`},
		{"unicode", values(`["\u00e9","é","\ud83d\ude00","z"]`), `["z","é","😀"]`},
		{"sorted by UTF-8 bytes", values(`["b","B","ä","a",""]`), `["","B","a","b","ä"]`},
		{"not an array", values(`{"a":1}`), "ERROR"},
		{"a number", values(`[1]`), "ERROR"},
		{"null", values(`[null]`), "ERROR"},
		{"nested", values(`[["a"]]`), "ERROR"},
		{"malformed among good", []abi.Sibling{live(1, `["a"]`), live(1, `["b"`)}, "ERROR"},
		{"malformed with a tombstone", []abi.Sibling{tomb(1), live(1, `[`)}, "ERROR"},
	}
	for _, bad := range notJSON {
		cases = append(cases, mergeCase{"not JSON " + bad, values(`["ok"]`, bad), "ERROR"})
	}
	runMergeCases(t, "set-union", cases)
}

func TestCounter(t *testing.T) {
	cases := []mergeCase{
		{"no siblings", nil, "DEFER"},
		{"one, canonicalized", values(` {"p": {"b":2, "a":1}} `), `{"n":{},"p":{"a":1,"b":2}}`},
		{"per-id max", values(`{"p":{"a":3,"b":1},"n":{"a":1}}`, `{"p":{"a":2,"b":4},"n":{"a":2,"c":5}}`),
			`{"n":{"a":2,"c":5},"p":{"a":3,"b":4}}`},
		{"members in any order", values(`{"n":{"x":1},"p":{}}`), `{"n":{"x":1},"p":{}}`},
		{"zero kept", values(`{"p":{"a":0}}`), `{"n":{},"p":{"a":0}}`},
		{"largest integer", values(`{"p":{"a":9007199254740991}}`), `{"n":{},"p":{"a":9007199254740991}}`},
		{"empty value is zero", values(``, `{"p":{"a":1}}`), `{"n":{},"p":{"a":1}}`},
		{"empty object", values(`{}`), `{"n":{},"p":{}}`},
		{"tombstones ignored", []abi.Sibling{tomb(3), live(1, `{"p":{"a":1}}`)}, `{"n":{},"p":{"a":1}}`},
		{"only tombstones", []abi.Sibling{tomb(1)}, "DELETE"},
		{"escaped ids", values(`{"p":{"\u0061":1}}`, `{"p":{"a":2}}`), `{"n":{},"p":{"a":2}}`},
		{"negative", values(`{"p":{"a":-1}}`), "ERROR"},
		{"too large", values(`{"p":{"a":9007199254740992}}`), "ERROR"},
		{"fraction", values(`{"p":{"a":1.0}}`), "ERROR"},
		{"exponent", values(`{"p":{"a":1e3}}`), "ERROR"},
		{"leading zero", values(`{"p":{"a":01}}`), "ERROR"},
		{"string count", values(`{"p":{"a":"1"}}`), "ERROR"},
		{"unknown member", values(`{"p":{},"q":{}}`), "ERROR"},
		{"repeated member", values(`{"p":{},"p":{}}`), "ERROR"},
		{"duplicate id", values(`{"p":{"a":1,"a":2}}`), "ERROR"},
		{"duplicate id, escaped", values(`{"n":{"a":1,"\u0061":1}}`), "ERROR"},
		{"duplicate id, apart", values(`{"n":{"b":1,"a":1,"c":1,"b":2}}`), "ERROR"},
		{"unsorted ids", values(`{"n":{"b":1,"a":1,"c":1}}`), `{"n":{"a":1,"b":1,"c":1},"p":{}}`},
		{"array", values(`[]`), "ERROR"},
		{"p not an object", values(`{"p":[]}`), "ERROR"},
	}
	for _, bad := range notJSON {
		cases = append(cases, mergeCase{"not JSON " + bad, values(`{}`, bad), "ERROR"})
	}
	runMergeCases(t, "counter", cases)
}

func TestShoppingCart(t *testing.T) {
	cases := []mergeCase{
		{"no siblings", nil, "DEFER"},
		{"one, canonicalized", values(`{"removed":["x"], "items":{"pear":{"t2":1},"apple":{"t3":2,"t1":1}}}`),
			`{"items":{"apple":{"t1":1,"t3":2},"pear":{"t2":1}},"removed":["x"]}`},
		{"concurrent adds of one item", values(`{"items":{"apple":{"a":2}}}`, `{"items":{"apple":{"b":3}}}`),
			`{"items":{"apple":{"a":2,"b":3}},"removed":[]}`},
		{"remove is observed", values(`{"items":{"apple":{"a":2}}}`, `{"items":{},"removed":["a"]}`),
			`{"items":{},"removed":["a"]}`},
		{"add wins over a concurrent remove", values(`{"items":{"apple":{"a":1}},"removed":[]}`, `{"items":{"apple":{"b":5}},"removed":["a"]}`, `{"items":{},"removed":["a"]}`),
			`{"items":{"apple":{"b":5}},"removed":["a"]}`},
		{"quantity change: new tag, old one removed", values(`{"items":{"apple":{"a":1}}}`, `{"items":{"apple":{"b":4}},"removed":["a"]}`),
			`{"items":{"apple":{"b":4}},"removed":["a"]}`},
		{"same tag: largest quantity", values(`{"items":{"apple":{"a":1}}}`, `{"items":{"apple":{"a":3}}}`),
			`{"items":{"apple":{"a":3}},"removed":[]}`},
		{"dead items dropped, removed kept sorted and unique", values(`{"items":{"a":{"x":1},"b":{"y":1},"c":{"z":1}},"removed":["y","x","y"]}`),
			`{"items":{"c":{"z":1}},"removed":["x","y"]}`},
		{"an item without tags is dropped", values(`{"items":{"apple":{}}}`), `{"items":{},"removed":[]}`},
		{"empty value is the empty cart", values(``, `{}`), `{"items":{},"removed":[]}`},
		{"tombstones ignored", []abi.Sibling{tomb(1), live(1, `{"items":{"a":{"t":1}}}`)}, `{"items":{"a":{"t":1}},"removed":[]}`},
		{"only tombstones", []abi.Sibling{tomb(1), tomb(2)}, "DELETE"},
		{"escaped keys", values(`{"items":{"\u00e9\n":{"\"t\"":1}}}`), `{"items":{"é\n":{"\"t\"":1}},"removed":[]}`},
		{"duplicate sku", values(`{"items":{"a":{"x":1},"a":{"y":1}}}`), "ERROR"},
		{"duplicate empty sku", values(`{"items":{"a":{},"a":{}}}`), "ERROR"},
		{"duplicate tag", values(`{"items":{"a":{"x":1,"x":2}}}`), "ERROR"},
		{"duplicate tag, apart", values(`{"items":{"a":{"y":1,"x":1,"z":1,"y":2}}}`), "ERROR"},
		{"duplicate sku, apart", values(`{"items":{"b":{},"a":{"x":1},"b":{"y":1}}}`), "ERROR"},
		{"same tag in two items", values(`{"items":{"a":{"x":1},"b":{"x":2}},"removed":["y"]}`), `{"items":{"a":{"x":1},"b":{"x":2}},"removed":["y"]}`},
		{"long keys", values(`{"items":{"` + strings.Repeat("s", 40) + `":{"` + strings.Repeat("t", 17) + `":1}},"removed":["` + strings.Repeat("t", 17) + `x"]}`),
			`{"items":{"` + strings.Repeat("s", 40) + `":{"` + strings.Repeat("t", 17) + `":1}},"removed":["` + strings.Repeat("t", 17) + `x"]}`},
		{"same sku in two siblings is fine", values(`{"items":{"a":{"x":1}}}`, `{"items":{"a":{"x":1}}}`), `{"items":{"a":{"x":1}},"removed":[]}`},
		{"repeated member", values(`{"items":{},"items":{}}`), "ERROR"},
		{"unknown member", values(`{"items":{},"qty":1}`), "ERROR"},
		{"old item shape", values(`{"items":{"a":{"qty":1,"tags":["x"]}}}`), "ERROR"},
		{"negative quantity", values(`{"items":{"a":{"x":-1}}}`), "ERROR"},
		{"removed not strings", values(`{"removed":[1]}`), "ERROR"},
		{"removed an object", values(`{"removed":{}}`), "ERROR"},
	}
	for _, bad := range notJSON {
		cases = append(cases, mergeCase{"not JSON " + bad, values(`{}`, bad), "ERROR"})
	}
	runMergeCases(t, "shopping-cart", cases)
}

// TestLargeValues merges values far larger than the guest library's output
// buffer and its initial memory.
func TestLargeValues(t *testing.T) {
	t.Parallel()
	var elems [2][]string
	for i := range 20000 {
		elems[i%2] = append(elems[i%2], fmt.Sprintf(`"%s%c%d"`, strings.Repeat("x", 20), 'a'+i%26, i))
	}
	siblings := values("["+strings.Join(elems[0], ",")+"]", "["+strings.Join(elems[1], ",")+"]")
	got, want := resolve(t, newPool(t, "set-union"), siblings), modelSetUnion(siblings)
	if got != want {
		t.Fatalf("got %d bytes starting %.40q, want %d bytes starting %.40q", len(got), got, len(want), want)
	}
}
