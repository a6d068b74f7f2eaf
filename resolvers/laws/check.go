package laws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/concord-kv/concord/resolvers"
	"github.com/concord-kv/concord/resolvers/abi"
)

// maxOrders is the number of orders of one sibling set tried besides the
// one it was drawn in.
const maxOrders = 24

// errAbandonSet stops the checks of one sibling set after a call failed (the
// failure is already recorded).
var errAbandonSet = errors.New("laws: sibling set abandoned")

// Check runs mod on sibling sets built from samples and reports which laws
// it obeys. rt is the runtime mod was compiled by.
//
// Check makes its own pools of mod (with opts.Limits, the namespace and its
// config) and closes them before returning. It is safe to call concurrently.
// The error is not about the module: it is ctx's error, or the runtime's
// ([resolvers.ErrClosed]); the report is then incomplete.
func Check(ctx context.Context, rt *resolvers.Runtime, mod *resolvers.Module, samples []Sample, opts Options) (Report, error) {
	if rt == nil || mod == nil {
		return Report{}, errors.New("laws: nil runtime or module")
	}
	opts = opts.withDefaults()
	// The breaker never opens: Check wants every call's outcome.
	never := resolvers.WithBreaker(resolvers.BreakerNeverOpens())
	c := &checker{
		fresh:     resolvers.NewPool(mod, opts.Namespace, opts.Config, opts.Limits, never),
		warm:      resolvers.NewPool(mod, opts.Namespace, opts.Config, opts.Limits, never),
		rng:       rand.New(rand.NewPCG(opts.Seed, 0x6f7264657273)), // "orders"
		evaluated: map[Law]bool{},
		skipped:   map[Law]bool{},
		report:    Report{Undecided: map[Law]int{}},
	}
	defer func() {
		_ = c.fresh.Close(context.WithoutCancel(ctx))
		_ = c.warm.Close(context.WithoutCancel(ctx))
	}()
	for _, sibs := range siblingSets(samples, opts.MaxInputs, opts.Seed) {
		if err := ctx.Err(); err != nil {
			return c.finish(), err
		}
		c.report.Checked++
		if err := c.checkSet(ctx, sibs); err != nil && !errors.Is(err, errAbandonSet) {
			return c.finish(), err
		}
		if c.halted {
			break
		}
	}
	return c.finish(), nil
}

// checker holds the state of one Check.
type checker struct {
	// fresh is drained before each call, so every call starts an instance;
	// warm keeps its one instance across calls (unless a call fails).
	fresh, warm *resolvers.Pool
	rng         *rand.Rand

	evaluated map[Law]bool // laws compared on at least one input
	skipped   map[Law]bool // laws not evaluable on the current set
	halted    bool         // a failure made further inputs pointless
	report    Report
}

// checkSet checks one sibling set: determinism first (the other laws are
// meaningless for a module whose result depends on the instance), then the
// laws on the warm pool.
func (c *checker) checkSet(ctx context.Context, sibs []abi.Sibling) error {
	clear(c.skipped)
	defer func() {
		for l := range c.skipped {
			c.report.Undecided[l]++
		}
	}()
	c.fresh.Drain()
	want, err := c.freshCall(ctx, sibs)
	if err != nil {
		return err
	}
	c.evaluated[LawABI] = true
	if want.fail != nil {
		return c.failed(sibs, ", on a fresh instance", want)
	}
	if err := c.determinism(ctx, sibs, want); err != nil {
		return err
	}
	if err := c.orderInsensitivity(ctx, sibs, want); err != nil {
		return err
	}
	if err := c.idempotence(ctx, sibs, want); err != nil {
		return err
	}
	return c.associativity(ctx, sibs, want)
}

// determinism compares the fresh instance's outcome with two calls on the
// warm instance, which has served every earlier input.
func (c *checker) determinism(ctx context.Context, sibs []abi.Sibling, fresh outcome) error {
	for call := 1; call <= 2; call++ {
		got, err := resolve(ctx, c.warm, sibs)
		if err != nil {
			return err
		}
		if got.haltsCheck() { // a timeout is no evidence of nondeterminism
			return c.failed(sibs, ", on a warm instance", got)
		}
		if !got.equal(fresh) {
			c.violate(LawDeterminism, sibs, got, fresh, fmt.Sprintf(
				"a fresh instance gives %s; a warm instance gives %s (call %d on this input): the result depends on earlier calls",
				fresh, got, call))
			return errAbandonSet
		}
	}
	c.evaluated[LawDeterminism] = true
	return nil
}

// orderInsensitivity resolves sibs in other orders.
func (c *checker) orderInsensitivity(ctx context.Context, sibs []abi.Sibling, want outcome) error {
	for _, perm := range permutations(c.rng, len(sibs), maxOrders) {
		in := permute(sibs, perm)
		got, err := c.call(ctx, in)
		if err != nil {
			return err
		}
		if !got.equal(want) {
			// in[perm⁻¹[i]] = sibs[i]: the drawn order, as indices into in.
			back := make([]int, len(perm))
			for i, j := range perm {
				back[j] = i
			}
			c.violate(LawOrderInsensitivity, in, got, want, fmt.Sprintf(
				"in this order the merge is %s; in the order %v of the same siblings (indices into the input) it is %s",
				got, back, want))
			return nil
		}
	}
	c.evaluated[LawOrderInsensitivity] = true
	return nil
}

// idempotence resolves the merged version m alone and twice.
func (c *checker) idempotence(ctx context.Context, sibs []abi.Sibling, m outcome) error {
	if !m.decided() {
		c.skipped[LawIdempotence] = true
		return nil
	}
	merged := m.sibling(maxTimestamp(sibs))
	for _, in := range [][]abi.Sibling{{merged, merged}, {merged}} {
		got, err := c.call(ctx, in)
		if err != nil {
			return err
		}
		if !got.decided() {
			c.skipped[LawIdempotence] = true
			continue
		}
		if !got.equal(m) {
			c.violate(LawIdempotence, in, got, m, fmt.Sprintf(
				"resolving the merged version %s as %d sibling(s) gives %s, not itself: merges may not be stable",
				m, len(in), got))
			return nil
		}
		c.evaluated[LawIdempotence] = true
	}
	return nil
}

// associativity compares merge(a, b, c...) with merge(merge(a, b), c...) and
// merge(a, merge(b, c...)), where a and b are the first two siblings and
// c... the rest, feeding merged versions back as siblings.
func (c *checker) associativity(ctx context.Context, sibs []abi.Sibling, want outcome) error {
	if len(sibs) < 3 {
		return nil
	}
	if !want.decided() {
		c.skipped[LawAssociativity] = true
		return nil
	}
	names := siblingNames(len(sibs))
	groupings := []struct {
		inner           []abi.Sibling
		outer           func(m abi.Sibling) []abi.Sibling
		name, innerName string
	}{
		{sibs[:2], func(m abi.Sibling) []abi.Sibling { return append([]abi.Sibling{m}, sibs[2:]...) },
			"merge(merge(a, b), " + strings.Join(names[2:], ", ") + ")", "merge(a, b)"},
		{sibs[1:], func(m abi.Sibling) []abi.Sibling { return []abi.Sibling{sibs[0], m} },
			"merge(a, merge(" + strings.Join(names[1:], ", ") + "))", "merge(" + strings.Join(names[1:], ", ") + ")"},
	}
	for _, g := range groupings {
		inner, err := c.call(ctx, g.inner)
		if err != nil {
			return err
		}
		if !inner.decided() {
			c.skipped[LawAssociativity] = true
			continue
		}
		got, err := c.call(ctx, g.outer(inner.sibling(maxTimestamp(g.inner))))
		if err != nil {
			return err
		}
		if !got.decided() {
			c.skipped[LawAssociativity] = true
			continue
		}
		if !got.equal(want) {
			c.violate(LawAssociativity, sibs, got, want, fmt.Sprintf(
				"%s is %s but merge(%s) is %s, where %s are the input's siblings in order and %s is %s: merges may not be stable",
				g.name, got, strings.Join(names, ", "), want, strings.Join(names, ", "), g.innerName, inner))
			return nil
		}
		c.evaluated[LawAssociativity] = true
	}
	return nil
}

func siblingNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = string(rune('a' + i))
	}
	return names
}

// freshCall starts an instance on the fresh pool (judged against the init
// deadline, not the call's) and resolves sibs on it. A timeout is tried
// once more on a new instance, so that one slow call on a loaded machine
// does not refuse a module.
func (c *checker) freshCall(ctx context.Context, sibs []abi.Sibling) (outcome, error) {
	var o outcome
	for try := 0; try < 2; try++ {
		var err error
		if o, err = warm(ctx, c.fresh); err == nil && o.fail == nil {
			o, err = resolve(ctx, c.fresh, sibs)
		}
		if err != nil || o.fail == nil || o.fail.Kind != resolvers.KindTimeout {
			return o, err
		}
		c.fresh.Drain()
	}
	return o, nil
}

// call resolves on the warm pool; a failed call is recorded as an ABI
// violation and abandons the set.
func (c *checker) call(ctx context.Context, sibs []abi.Sibling) (outcome, error) {
	o, err := resolve(ctx, c.warm, sibs)
	if err != nil {
		return o, err
	}
	if o.fail != nil {
		return o, c.failed(sibs, "", o)
	}
	return o, nil
}

// failed records a failed call as an ABI violation and abandons the set.
func (c *checker) failed(sibs []abi.Sibling, where string, o outcome) error {
	detail := describeFailure(o.fail, "on this input"+where)
	if o.haltsCheck() {
		c.halted = true
		detail += "; no further inputs were tried"
	}
	c.violate(LawABI, sibs, o, outcome{}, detail)
	return errAbandonSet
}

// violate records the first violation of a law.
func (c *checker) violate(l Law, sibs []abi.Sibling, got, want outcome, detail string) {
	if slices.ContainsFunc(c.report.Violations, func(v Violation) bool { return v.Law == l }) {
		return
	}
	v := Violation{Law: l, Got: got.value, Want: want.value, Detail: detail}
	for _, s := range sibs {
		v.Input = append(v.Input, s.Value)
		v.Tombstones = append(v.Tombstones, s.Tombstone)
		v.Timestamps = append(v.Timestamps, s.Timestamp)
	}
	c.report.Violations = append(c.report.Violations, v)
}

// finish orders the report and lists the laws passed.
func (c *checker) finish() Report {
	r := c.report
	order := Laws()
	slices.SortStableFunc(r.Violations, func(a, b Violation) int {
		return slices.Index(order, a.Law) - slices.Index(order, b.Law)
	})
	for _, l := range order {
		if _, violated := r.ViolationOf(l); c.evaluated[l] && !violated {
			r.Passed = append(r.Passed, l)
		}
	}
	for l, n := range r.Undecided {
		if n == 0 {
			delete(r.Undecided, l)
		}
	}
	return r
}
