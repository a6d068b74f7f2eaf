package laws

import (
	"slices"

	"github.com/concord-kv/concord/resolvers"
)

// Sample is a value the uploader says is typical for the namespace. Check
// builds its sibling sets from samples.
type Sample []byte

// Law names a property a resolver is checked for.
type Law string

// The laws, in the order Check reports them.
const (
	// LawABI: every call ends with a status; no trap, timeout, exit, invalid
	// status or oversized output on the samples, and an instance starts
	// within the namespace's limits. Refuses an upload.
	LawABI Law = "abi"
	// LawDeterminism: a fresh instance, a warm (pooled) instance and repeated
	// calls give the same status and output. Refuses an upload.
	LawDeterminism Law = "determinism"
	// LawOrderInsensitivity: every order of the siblings gives the same
	// status and output. Refuses an upload.
	LawOrderInsensitivity Law = "order-insensitivity"
	// LawIdempotence: merging a merged value m with itself ([m, m]), or
	// alone ([m]), gives m. A warning.
	LawIdempotence Law = "idempotence"
	// LawAssociativity: merge(merge(a, b), c) = merge(a, merge(b, c)) =
	// merge(a, b, c). A warning.
	LawAssociativity Law = "associativity"
)

// Laws returns every law, in report order.
func Laws() []Law {
	return []Law{LawABI, LawDeterminism, LawOrderInsensitivity, LawIdempotence, LawAssociativity}
}

// Refuses reports whether a violation of l refuses an upload: the ABI (a
// module that fails on its own samples would fail in production, each
// failure costing a deadline), determinism and order-insensitivity
// (replicas resolving independently would diverge). Violations of the
// other laws are warnings.
func (l Law) Refuses() bool {
	return l == LawABI || l == LawDeterminism || l == LawOrderInsensitivity
}

// DefaultMaxInputs is the number of sibling sets Check tries when
// Options.MaxInputs is zero.
const DefaultMaxInputs = 64

// Options configure [Check]. The zero value is usable.
type Options struct {
	// MaxInputs is the number of sibling sets to try. Default
	// [DefaultMaxInputs]; fewer are tried when the samples cannot make that
	// many distinct sets.
	MaxInputs int
	// Seed selects the sibling sets (which samples, timestamps, orders).
	// The same module, samples and options always give the same report.
	Seed uint64
	// Limits must be the namespace's: its deadline (the tighter of its
	// read and write deadlines), memory pages and output cap, so that a
	// module is checked under the limits it will run with. Zero fields take
	// the resolvers defaults; the runtime's caps apply. MaxInstances is
	// ignored: Check runs one call at a time.
	Limits resolvers.Limits
	// Namespace is the namespace the module is checked for; guests see it
	// in the input frame.
	Namespace string
	// Config is the namespace's resolver config, passed to the guest's
	// config_read. A module is checked with the config it will run with.
	Config []byte
}

func (o Options) withDefaults() Options {
	if o.MaxInputs <= 0 {
		o.MaxInputs = DefaultMaxInputs
	}
	o.Limits.MaxInstances = 1
	return o
}

// Violation is the first input on which a law failed.
//
// Input, Tombstones and Timestamps are the siblings, in the order that
// reproduces Got: resolve them (with the same namespace and config) to see
// it, except for determinism (Got came from a warm instance, Want from a
// fresh one) and associativity (Want is what resolving Input gives; Got is
// the nested merge Detail names). Got and Want are merged values, non-nil
// for status OK and nil otherwise; Detail spells out both outcomes,
// statuses included.
type Violation struct {
	Law Law
	// Input holds the siblings' values (nil for a tombstone).
	Input      [][]byte
	Tombstones []bool
	Timestamps []int64
	Got, Want  []byte
	// Detail explains the violation in a sentence or two, for the uploader.
	Detail string
}

// Report is the outcome of [Check].
type Report struct {
	// Passed lists the laws that were evaluated at least once and never
	// violated, in [Laws] order.
	Passed []Law
	// Violations holds at most one violation per law (the first input that
	// broke it), in [Laws] order.
	Violations []Violation
	// Checked is the number of sibling sets tried.
	Checked int
	// Undecided counts, per law, the sibling sets on which it could not be
	// evaluated because a merge it depends on returned DEFER or ERROR. A law
	// neither in Passed nor violated was never evaluated.
	Undecided map[Law]int
}

// Refused reports whether the module must be refused: the ABI, determinism
// or order-insensitivity failed. Other violations are warnings.
func (r Report) Refused() bool {
	return slices.ContainsFunc(r.Violations, func(v Violation) bool { return v.Law.Refuses() })
}

// ViolationOf returns the violation of law l, if any.
func (r Report) ViolationOf(l Law) (Violation, bool) {
	i := slices.IndexFunc(r.Violations, func(v Violation) bool { return v.Law == l })
	if i < 0 {
		return Violation{}, false
	}
	return r.Violations[i], true
}
