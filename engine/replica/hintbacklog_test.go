package replica_test

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/replica"
	"github.com/concord-kv/concord/engine/storage/memory"
)

// TestHintBacklogPerNamespace: the hints kept of each namespace are counted
// apart, fall as hints are delivered, and are recounted on open.
func TestHintBacklogPerNamespace(t *testing.T) {
	t.Parallel()
	eng := memory.New()
	s, err := replica.New(eng, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("x")})
	for i := range 3 {
		for _, ns := range []string{"one", "two"} {
			if i == 2 && ns == "two" {
				continue
			}
			if err := s.StoreHint("b", ns, fmt.Appendf(nil, "k%d", i), x, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(s *replica.Store, one, two int64) {
		t.Helper()
		if got1, got2, none := s.HintBacklogOf("one"), s.HintBacklogOf("two"), s.HintBacklogOf("three"); got1 != one || got2 != two || none != 0 {
			t.Errorf("hints of one, two, three = %d, %d, %d; want %d, %d, 0", got1, got2, none, one, two)
		}
	}
	check(s, 3, 2)
	hints, err := s.Hints("b", 1)
	if err != nil || len(hints) != 1 || hints[0].Namespace != "one" {
		t.Fatalf("first hint: %+v, %v", hints, err)
	}
	if err := s.DropHint(hints[0]); err != nil {
		t.Fatal(err)
	}
	check(s, 2, 2)
	again, err := replica.New(eng, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(again, 2, 2)
}
