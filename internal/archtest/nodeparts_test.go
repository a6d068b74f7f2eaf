package archtest_test

import (
	"slices"
	"strings"
	"testing"
)

// nodeParts are the packages engine/node is built from, one job each. They
// sit at the node layer (engineLayers: nothing below imports them, and
// like every engine package they reach the wire only through engine/peer
// and never internal/). engine/node assembles them; a part never depends
// on engine/node, nor on another part: what it needs of the others is a
// small interface of its own, which the node fills. sharedParts are the
// exceptions every part may use.
var nodeParts = []string{
	"engine/node/antientropy",
	"engine/node/front",
	"engine/node/hints",
	"engine/node/incarnations",
	"engine/node/loop",
	"engine/node/purger",
	"engine/node/registry",
	"engine/node/seals",
	"engine/node/topology",
	"engine/node/transfer",
	"engine/node/usage",
}

// sharedParts may be imported by every part.
var sharedParts = []string{"engine/node/loop"}

func TestNodePartsStandAlone(t *testing.T) {
	t.Parallel()
	g := mustGraph(t)
	for _, part := range nodeParts {
		if len(g.modulePkgs(part)) == 0 {
			t.Errorf("node part %s holds no package: update nodeParts", part)
		}
	}
	for _, p := range g.modulePkgs("engine/node") {
		if p.rel() == "engine/node" {
			continue
		}
		if !slices.ContainsFunc(nodeParts, func(part string) bool { return under(p.rel(), part) }) {
			t.Errorf("%s is under engine/node but not listed in nodeParts: add it, with its one job in docs/architecture.md", p.rel())
		}
		for _, dep := range p.Deps {
			d := g[dep].rel()
			if !under(d, "engine/node") || under(d, p.rel()) || slices.Contains(sharedParts, d) {
				continue
			}
			t.Errorf("%s depends on %s (%s): node parts stand alone; declare an interface for what you need and let engine/node fill it (shared: %s)",
				p.rel(), d, g.path(p.ImportPath, dep), strings.Join(sharedParts, ", "))
		}
	}
}
