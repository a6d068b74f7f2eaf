package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNamespaceStatsCommand: `concord ns stats` shows what the node
// counted: requests per operation, the share of reads by versions, and
// each node's figures; -o json is the API's answer.
func TestNamespaceStatsCommand(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	e := []string{"--endpoint", ep}
	mustRun(t, nil, "", append([]string{"kv", "put", "a", "1"}, e...)...)
	mustRun(t, nil, "", append([]string{"kv", "put", "a", "2"}, e...)...) // blind: a has two versions
	mustRun(t, nil, "", append([]string{"kv", "put", "b", "1"}, e...)...)
	mustRun(t, nil, "", append([]string{"kv", "get", "a"}, e...)...)
	mustRun(t, nil, "", append([]string{"kv", "get", "b"}, e...)...)

	out := mustRun(t, nil, "", append([]string{"ns", "stats", "default"}, e...)...)
	for _, want := range []string{
		"namespace default: 1 node answered",
		"OPERATION", "P99.9",
		"reads by versions:", "1: 50.00% (1)  2: 50.00% (1)  3: 0.00% (0)  4+: 0.00% (0)",
		"resolver:", "breaker closed", "rejections:", "keys repaired:", "stored (one replica):",
		"NODE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	rows := map[string][]string{}
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 2 {
			rows[f[0]] = f[1:]
		}
	}
	if rows["get"][0] != "2" || rows["put"][0] != "3" || rows["delete"][0] != "0" {
		t.Errorf("requests: get %v, put %v, delete %v; want 2, 3, 0:\n%s", rows["get"], rows["put"], rows["delete"], out)
	}

	var got struct {
		Total struct {
			Operations []struct {
				Operation string `json:"operation"`
				Requests  int    `json:"requests,string"` // protojson writes 64-bit numbers as strings
			} `json:"operations"`
			ReadsByVersions []string `json:"readsByVersions"`
		} `json:"total"`
		Nodes []struct {
			Node string `json:"node"`
		} `json:"nodes"`
	}
	out = mustRun(t, nil, "", append([]string{"namespace", "stats", "default", "-o", "json"}, e...)...)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if len(got.Nodes) != 1 || got.Nodes[0].Node == "" || len(got.Total.Operations) != 4 || got.Total.Operations[1].Requests != 3 ||
		len(got.Total.ReadsByVersions) != 4 || got.Total.ReadsByVersions[0] != "1" || got.Total.ReadsByVersions[1] != "1" {
		t.Errorf("-o json = %+v\n%s", got, out)
	}

	if _, err := run(t, nil, "", append([]string{"ns", "stats", "ghost"}, e...)...); err == nil {
		t.Error("stats of a namespace that does not exist succeeded")
	}
}
