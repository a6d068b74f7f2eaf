package dvv_test

import (
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

func TestClock(t *testing.T) {
	t.Parallel()
	c := func(m map[string]uint64) dvv.Clock { return dvv.NewClock(m) }
	tests := []struct {
		name       string
		a, b       dvv.Clock
		aDescendsB bool
		bDescendsA bool
		merge      string
	}{
		{"zero", dvv.Clock{}, dvv.Clock{}, true, true, "{}"},
		{"zero entries are dropped", c(map[string]uint64{"a": 0}), dvv.Clock{}, true, true, "{}"},
		{"equal", c(map[string]uint64{"a": 1, "b": 2}), c(map[string]uint64{"b": 2, "a": 1}), true, true, "{a:1, b:2}"},
		{"greater", c(map[string]uint64{"a": 2, "b": 2}), c(map[string]uint64{"a": 1}), true, false, "{a:2, b:2}"},
		{"concurrent", c(map[string]uint64{"a": 2}), c(map[string]uint64{"a": 1, "b": 1}), false, false, "{a:2, b:1}"},
		{"disjoint", c(map[string]uint64{"x": 1}), c(map[string]uint64{"y": 1}), false, false, "{x:1, y:1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.a.Descends(tt.b); got != tt.aDescendsB {
				t.Errorf("%v.Descends(%v) = %v", tt.a, tt.b, got)
			}
			if got := tt.b.Descends(tt.a); got != tt.bDescendsA {
				t.Errorf("%v.Descends(%v) = %v", tt.b, tt.a, got)
			}
			if got := tt.a.Equal(tt.b); got != (tt.aDescendsB && tt.bDescendsA) {
				t.Errorf("Equal = %v", got)
			}
			if got := tt.a.Merge(tt.b).String(); got != tt.merge {
				t.Errorf("Merge = %s, want %s", got, tt.merge)
			}
		})
	}
}

func TestClockAccessors(t *testing.T) {
	t.Parallel()
	c := dvv.NewClock(map[string]uint64{"b": 2, "a": 1})
	if got := c.Actors(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Actors = %q", got)
	}
	if c.Get("b") != 2 || c.Get("z") != 0 || c.IsZero() || !(dvv.Clock{}).IsZero() {
		t.Errorf("Get/IsZero wrong on %v", c)
	}
	if !c.Covers(dvv.Dot{Actor: "b", Counter: 2}) || c.Covers(dvv.Dot{Actor: "b", Counter: 3}) || c.Covers(dvv.Dot{Actor: "z", Counter: 1}) {
		t.Errorf("Covers wrong on %v", c)
	}
	c.Actors()[0] = "mutated"
	if c.Actors()[0] != "a" {
		t.Error("Actors returned the clock's own storage")
	}
}

func TestNewClockPanics(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]map[string]uint64{
		"empty actor":       {"": 1},
		"counter too large": {"a": dvv.MaxCounter + 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Fatalf("NewClock(%v) did not panic", m)
				}
			}()
			dvv.NewClock(m)
		})
	}
}
