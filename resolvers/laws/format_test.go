package laws_test

import (
	"strings"
	"testing"

	"github.com/concord-kv/concord/resolvers/laws"
)

func TestReportString(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) // 300 bytes
	for _, tc := range []struct {
		name string
		r    laws.Report
		want []string
		not  []string
	}{
		{
			name: "accepted",
			r:    laws.Report{Passed: laws.Laws(), Checked: 64},
			want: []string{"accepted (64 sibling sets tried)", "passed: abi, determinism, order-insensitivity, idempotence, associativity"},
			not:  []string{"violated", "warning"},
		},
		{
			name: "refused, text and tombstone",
			r: laws.Report{Checked: 3, Violations: []laws.Violation{{
				Law:   laws.LawOrderInsensitivity,
				Input: [][]byte{[]byte("a\tb"), nil}, Tombstones: []bool{false, true}, Timestamps: []int64{5, 1e9},
				Detail: "in this order ...",
			}}},
			want: []string{"refused: order-insensitivity failed", "order-insensitivity violated (refuses the upload)",
				`input: ["a\tb" @1970-01-01T00:00:00.000000005Z, tombstone @1970-01-01T00:00:01Z]`, "in this order ..."},
		},
		{
			name: "warnings, binary value",
			r: laws.Report{Violations: []laws.Violation{
				{Law: laws.LawIdempotence, Input: [][]byte{{0xff, 0x00}}, Tombstones: []bool{false}, Timestamps: []int64{0}},
				{Law: laws.LawAssociativity, Input: [][]byte{{}}, Tombstones: []bool{false}, Timestamps: []int64{0}},
			}},
			want: []string{"accepted with warnings: idempotence, associativity", "idempotence violated (warning)", `input: [base64:/wA= @1970-01-01T00:00:00Z]`, `input: ["" @1970-01-01T00:00:00Z]`},
			not:  []string{"refused"},
		},
		{
			name: "long values are cut",
			r: laws.Report{Violations: []laws.Violation{
				{Law: laws.LawABI, Input: [][]byte{[]byte(long), make([]byte, 1000)}, Tombstones: []bool{false, false}, Timestamps: []int64{1, 2}},
			}},
			want: []string{`"` + strings.Repeat("é", 100) + `"… (300 bytes) @`, "… (1000 bytes) @"},
			not:  []string{strings.Repeat("é", 101)},
		},
		{
			name: "skipped",
			r:    laws.Report{Undecided: map[laws.Law]int{laws.LawAssociativity: 4}},
			want: []string{"associativity: not evaluated on 4 sets"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.r.String()
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("missing %q in:\n%s", w, s)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(s, n) {
					t.Errorf("unexpected %q in:\n%s", n, s)
				}
			}
		})
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	for _, l := range laws.Laws() {
		r := laws.Report{Violations: []laws.Violation{{Law: l}}}
		want := l == laws.LawABI || l == laws.LawDeterminism || l == laws.LawOrderInsensitivity
		if r.Refused() != want || l.Refuses() != want {
			t.Errorf("a %s violation: Refused() = %v, Refuses() = %v, want %v", l, r.Refused(), l.Refuses(), want)
		}
	}
	if (laws.Report{}).Refused() {
		t.Error("an empty report is refused")
	}
}
