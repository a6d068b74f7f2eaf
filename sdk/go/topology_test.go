package concord_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	concord "github.com/concord-kv/concord/sdk/go"
)

// The SDK computes a key's partition as the server does: the placement
// vectors the server's engine/keys pins (and the TypeScript and Python
// SDKs check too).
func TestPartitionMatchesThePlacementVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../engine/keys/testdata/placement.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Case, Namespace, Key string
			Partition            map[string]int
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		key, err := hex.DecodeString(v.Key)
		if err != nil {
			t.Fatalf("%s: %v", v.Case, err)
		}
		for qs, want := range v.Partition {
			q, _ := strconv.Atoi(qs)
			bits := 0
			for 1<<bits < q {
				bits++
			}
			if got := concord.PartitionOf(v.Namespace, key, bits); got != want {
				t.Errorf("%s, q=%d: partition %d, want %d", v.Case, q, got, want)
			}
		}
	}
}
