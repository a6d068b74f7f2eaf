package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClusterSettingsCommands: `cluster settings` shows the settings in
// force, `cluster settings set` changes only the flags given (0 back to the
// default), and refuses to run without one.
func TestClusterSettingsCommands(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	settings := func(args ...string) string {
		t.Helper()
		return mustRun(t, nil, "", append(append([]string{"cluster", "settings"}, args...), "--endpoint", ep)...)
	}
	var got struct {
		Settings struct {
			MaxNamespaces           int `json:"maxNamespaces"`
			HandoffObjectsPerSecond int `json:"handoffObjectsPerSecond"`
			HintsPerSecond          int `json:"hintsPerSecond"`
		} `json:"settings"`
	}
	decode := func(out string) {
		t.Helper()
		got.Settings.MaxNamespaces, got.Settings.HandoffObjectsPerSecond, got.Settings.HintsPerSecond = 0, 0, 0
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("-o json is not JSON: %v\n%s", err, out)
		}
	}

	out := settings()
	for _, want := range []string{"max namespaces:", "1000", "handoff objects per second:", "20000", "max namespace ops per second:", "uncapped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("settings output lacks %q:\n%s", want, out)
		}
	}

	decode(settings("set", "--handoff-objects-per-second", "5000", "--max-namespaces", "12", "-o", "json"))
	if s := got.Settings; s.HandoffObjectsPerSecond != 5000 || s.MaxNamespaces != 12 || s.HintsPerSecond != 10000 {
		t.Fatalf("set --handoff-objects-per-second 5000 --max-namespaces 12: %+v", s)
	}
	decode(settings("set", "--max-namespaces", "0", "-o", "json"))
	if s := got.Settings; s.MaxNamespaces != 1000 || s.HandoffObjectsPerSecond != 5000 {
		t.Fatalf("set --max-namespaces 0 changed more than max_namespaces, or not to its default: %+v", s)
	}
	decode(settings("-o", "json"))
	if s := got.Settings; s.HandoffObjectsPerSecond != 5000 {
		t.Fatalf("settings after set: %+v", s)
	}

	out, err := run(t, nil, "", "cluster", "settings", "set", "--endpoint", ep)
	if err == nil || !strings.Contains(err.Error(), "--aae-keys-per-second") {
		t.Fatalf("set without flags: %v\n%s", err, out)
	}
	out, err = run(t, nil, "", "cluster", "settings", "set", "--max-resolver-memory-pages", "20000", "--endpoint", ep)
	if err == nil || !strings.Contains(err.Error(), "max_resolver_memory_pages") {
		t.Fatalf("set over a bound: %v\n%s", err, out)
	}
}
