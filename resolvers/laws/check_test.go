package laws_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
	"github.com/concord-kv/concord/resolvers/laws"
)

// samples are varied enough for every law to show: lengths 1 to 9 (the
// mean of three rarely equals a mean of means), shared bytes, an empty value.
var samples = texts("apple", "b", "kiwi", "banana split", "", "fig")

func TestLawfulModulePasses(t *testing.T) {
	t.Parallel()
	r := check(t, lawful, samples, laws.Options{})
	if len(r.Violations) > 0 {
		t.Fatalf("violations of a lawful module:\n%s", r)
	}
	if !slices.Equal(r.Passed, laws.Laws()) {
		t.Errorf("Passed = %v, want every law", r.Passed)
	}
	if r.Refused() || r.Checked != laws.DefaultMaxInputs || len(r.Undecided) > 0 {
		t.Errorf("Refused %v, Checked %d (want %d), Undecided %v", r.Refused(), r.Checked, laws.DefaultMaxInputs, r.Undecided)
	}
}

// Each broken module is caught by the law it breaks, and by no law it
// obeys; the reported input reproduces the violation when the module is run
// on it again.
func TestViolations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mode    string
		samples []laws.Sample
		law     laws.Law
		obeys   []laws.Law
		refused bool
		detail  string
		// reproduce re-runs the module on the violation's input.
		reproduce func(t *testing.T, v laws.Violation)
	}{
		{
			name: "order-sensitive", mode: first, samples: samples,
			law: laws.LawOrderInsensitivity, refused: true, detail: "in this order",
			obeys: []laws.Law{laws.LawABI, laws.LawDeterminism, laws.LawIdempotence, laws.LawAssociativity},
			reproduce: func(t *testing.T, v laws.Violation) {
				p := newPool(t, first)
				in := siblings(v)
				mustGive(t, resolve(t, p, in), v.Got, "the input in the reported order")
				for _, perm := range allOrders(len(in)) {
					if r := resolve(t, p, permute(in, perm)); r.err == nil && bytes.Equal(r.value, v.Want) {
						return
					}
				}
				t.Errorf("no order of the input gives Want %q", v.Want)
			},
		},
		{
			name: "stateful", mode: counting, samples: samples,
			law: laws.LawDeterminism, refused: true, detail: "warm instance",
			obeys: []laws.Law{laws.LawABI},
			reproduce: func(t *testing.T, v laws.Violation) {
				p := newPool(t, counting)
				in := siblings(v)
				mustGive(t, resolve(t, p, in), v.Want, "a fresh instance")
				mustGive(t, resolve(t, p, in), v.Got, "the same instance, warm")
			},
		},
		{
			name: "not idempotent", mode: bag, samples: samples,
			law: laws.LawIdempotence, detail: "not itself",
			obeys: []laws.Law{laws.LawABI, laws.LawDeterminism, laws.LawOrderInsensitivity, laws.LawAssociativity},
			reproduce: func(t *testing.T, v laws.Violation) {
				for i, value := range v.Input {
					if !bytes.Equal(value, v.Want) || v.Tombstones[i] {
						t.Errorf("input %d is %q, want the merged value %q", i, value, v.Want)
					}
				}
				mustGive(t, resolve(t, newPool(t, bag), siblings(v)), v.Got, "the input")
			},
		},
		{
			name: "not associative", mode: mean, samples: samples,
			law: laws.LawAssociativity, detail: "merge(",
			obeys: []laws.Law{laws.LawABI, laws.LawDeterminism, laws.LawOrderInsensitivity, laws.LawIdempotence},
			reproduce: func(t *testing.T, v laws.Violation) {
				p := newPool(t, mean)
				in := siblings(v)
				mustGive(t, resolve(t, p, in), v.Want, "the input, merged at once")
				left := resolve(t, p, append([]abi.Sibling{merged(resolve(t, p, in[:2]), in[:2])}, in[2:]...))
				right := resolve(t, p, []abi.Sibling{in[0], merged(resolve(t, p, in[1:]), in[1:])})
				if !bytes.Equal(left.value, v.Got) && !bytes.Equal(right.value, v.Got) {
					t.Errorf("merge(merge(a, b), c) = %q and merge(a, merge(b, c)) = %q, want one of them = Got %q", left.value, right.value, v.Got)
				}
			},
		},
		{
			name: "traps", mode: fragile, samples: append(texts("!boom"), samples...),
			law: laws.LawABI, refused: true, detail: "trapped on this input",
			obeys: []laws.Law{laws.LawDeterminism, laws.LawOrderInsensitivity, laws.LawIdempotence, laws.LawAssociativity},
			reproduce: func(t *testing.T, v laws.Violation) {
				var ce *resolvers.CallError
				if r := resolve(t, newPool(t, fragile), siblings(v)); !errors.As(r.err, &ce) || ce.Kind != resolvers.KindTrap {
					t.Errorf("the input gives %v, want a trap", r.err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := check(t, tc.mode, tc.samples, laws.Options{})
			v, ok := r.ViolationOf(tc.law)
			if !ok {
				t.Fatalf("no %s violation:\n%s", tc.law, r)
			}
			if r.Refused() != tc.refused {
				t.Errorf("Refused() = %v, want %v", r.Refused(), tc.refused)
			}
			for _, l := range tc.obeys {
				if !slices.Contains(r.Passed, l) {
					t.Errorf("%s not in Passed %v:\n%s", l, r.Passed, r)
				}
			}
			if !strings.Contains(v.Detail, tc.detail) {
				t.Errorf("Detail %q does not contain %q", v.Detail, tc.detail)
			}
			if s := r.String(); !strings.Contains(s, string(tc.law)+" violated") {
				t.Errorf("String() does not name the law:\n%s", s)
			}
			if len(v.Input) != len(v.Tombstones) || len(v.Input) != len(v.Timestamps) {
				t.Fatalf("input of %d values, %d tombstone flags, %d timestamps", len(v.Input), len(v.Tombstones), len(v.Timestamps))
			}
			tc.reproduce(t, v)
		})
	}
}

// A module that runs past its deadline is refused, and Check stops rather
// than spend a deadline on every input. (The deadline leaves legitimate
// calls, microseconds each, ample room under -race on a loaded machine.)
func TestTimeoutStopsTheCheck(t *testing.T) {
	t.Parallel()
	const deadline = 250 * time.Millisecond
	start := time.Now()
	r := check(t, fragile, append(texts("~loop"), samples...), laws.Options{Limits: resolvers.Limits{Deadline: deadline}})
	v, ok := r.ViolationOf(laws.LawABI)
	if !ok || !strings.Contains(v.Detail, "timed out") {
		t.Fatalf("want an abi violation with a timeout:\n%s", r)
	}
	if r.Checked >= laws.DefaultMaxInputs || !r.Refused() {
		t.Errorf("Checked %d, Refused %v: want a refusal and a stop before the last input", r.Checked, r.Refused())
	}
	if !slices.ContainsFunc(v.Input, func(b []byte) bool { return string(b) == "~loop" }) {
		t.Errorf("input %q does not hold the looping value", v.Input)
	}
	t.Logf("Check took %v", time.Since(start))
}

// A merge that never produces a version leaves idempotence and
// associativity unevaluated, not violated.
func TestUndecidedMergesAreCounted(t *testing.T) {
	t.Parallel()
	r := check(t, alwaysFailing, samples, laws.Options{MaxInputs: 16})
	if len(r.Violations) > 0 {
		t.Fatalf("violations:\n%s", r)
	}
	want := []laws.Law{laws.LawABI, laws.LawDeterminism, laws.LawOrderInsensitivity}
	if !slices.Equal(r.Passed, want) {
		t.Errorf("Passed = %v, want %v", r.Passed, want)
	}
	if r.Undecided[laws.LawIdempotence] != 16 || r.Undecided[laws.LawAssociativity] == 0 {
		t.Errorf("Undecided = %v, want idempotence on all 16 sets and associativity on some", r.Undecided)
	}
	if s := r.String(); !strings.Contains(s, "idempotence: not evaluated on 16 sets") {
		t.Errorf("String() does not say what was skipped:\n%s", s)
	}
}

func TestCheckIsReproducible(t *testing.T) {
	t.Parallel()
	opts := laws.Options{Seed: 7, MaxInputs: 20}
	a, b := check(t, first, samples, opts), check(t, first, samples, opts)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two checks with the same options differ:\n%s\n%s", a, b)
	}
	if a.Checked != 20 {
		t.Errorf("Checked = %d, want MaxInputs 20", a.Checked)
	}
}

func TestSamplesShapeTheInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		samples []laws.Sample
		max     int // most sibling sets they can make
	}{
		{"none: tombstones only", nil, 9},
		{"one", texts("solo"), laws.DefaultMaxInputs},
		{"many", samples, laws.DefaultMaxInputs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := check(t, lawful, tc.samples, laws.Options{})
			if r.Checked == 0 || r.Checked > tc.max || len(r.Violations) > 0 {
				t.Errorf("Checked %d (want 1..%d), violations:\n%s", r.Checked, tc.max, r)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := laws.Check(ctx, rt, merges, samples, laws.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Check with a canceled context: %v, want context.Canceled", err)
	}
}

func mustGive(t *testing.T, r result, want []byte, what string) {
	t.Helper()
	if r.err != nil || !bytes.Equal(r.value, want) || (want == nil) != (r.status != abi.StatusOK) {
		t.Errorf("%s gives %s %q (err %v), want %q", what, r.status, r.value, r.err, want)
	}
}

func allOrders(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, rest := range allOrders(n - 1) {
		for i := 0; i <= len(rest); i++ {
			out = append(out, slices.Insert(slices.Clone(rest), i, n-1))
		}
	}
	return out
}

func permute(sibs []abi.Sibling, perm []int) []abi.Sibling {
	out := make([]abi.Sibling, len(perm))
	for i, j := range perm {
		out[i] = sibs[j]
	}
	return out
}
