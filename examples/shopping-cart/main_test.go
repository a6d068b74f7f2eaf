package main

import (
	"strings"
	"testing"
)

// TestShoppingCartConverges runs the example end to end: after the
// partition heals, every node shows the one merged cart.
func TestShoppingCartConverges(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"node 1: {apples×3, pears×2} (1 version)", "node 3: {apples×3, pears×2} (1 version)", "he sees {milk×1, pears×2}"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}
