package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/cli"
	"github.com/concord-kv/concord/internal/clustertest"
	"github.com/concord-kv/concord/internal/testcred"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// clusterCmd runs `concord cluster ARGS --endpoint ep` with a deadline, so a
// watch that never ends fails the test instead of hanging it.
func clusterCmd(t *testing.T, ep string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := cli.New(cli.Env{Environ: func() []string { return nil }})
	var out, errOut bytes.Buffer
	cmd.SetArgs(append(append([]string{"cluster"}, args...), "--endpoint", ep, "--token", testcred.AdminToken))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func mustCluster(t *testing.T, ep string, args ...string) string {
	t.Helper()
	out, err := clusterCmd(t, ep, args...)
	if err != nil {
		t.Fatalf("concord cluster %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// memberRow finds a node's row in the members table of `cluster status`.
func memberRow(t *testing.T, status, id string) []string {
	t.Helper()
	for line := range strings.Lines(status) {
		if f := strings.Fields(line); len(f) == 7 && f[0] == id {
			return f
		}
	}
	t.Fatalf("no member row for %s in:\n%s", id, status)
	return nil
}

type statusJSON struct {
	RingEpoch  string `json:"ringEpoch"`
	Partitions int    `json:"partitions"`
	Members    []struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		Partitions int    `json:"partitions"`
		InRing     bool   `json:"inRing"`
	} `json:"members"`
	Staged []struct {
		Kind   string `json:"kind"`
		NodeID string `json:"nodeId"`
	} `json:"staged"`
}

func clusterStatus(t *testing.T, ep string) statusJSON {
	t.Helper()
	var s statusJSON
	out := mustCluster(t, ep, "status", "-o", "json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	return s
}

func TestClusterStatusAndErrors(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ep := c.Nodes[0].API

	out := mustCluster(t, ep, "status")
	if !strings.Contains(out, "Ring epoch") || !strings.Contains(out, "64 partitions") {
		t.Fatalf("status lacks the ring:\n%s", out)
	}
	for _, n := range c.Nodes {
		row := memberRow(t, out, n.ID())
		if row[1] != "alive" || row[6] != "yes" || row[5] == "0" {
			t.Errorf("member %s: %v, want alive, in the ring, with partitions", n.ID(), row)
		}
	}
	if !strings.Contains(out, "Staged changes: none") || !strings.Contains(out, "Handoffs: none in progress") {
		t.Errorf("status should say nothing is staged or moving:\n%s", out)
	}

	s := clusterStatus(t, ep)
	inRing := 0
	for _, m := range s.Members {
		if m.InRing && m.State == "MEMBER_STATE_ALIVE" {
			inRing++
		}
	}
	if len(s.Members) != 3 || inRing != 3 || s.Partitions != 64 {
		t.Fatalf("status -o json: %+v, want 3 alive members in a ring of 64", s)
	}

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"join unknown", []string{"join", "n-nobody"}, []string{"invalid_argument", `no member "n-nobody" is known to gossip`}},
		{"join member", []string{"join", c.Nodes[1].ID()}, []string{"invalid_argument", "already in the ring"}},
		{"leave unknown", []string{"leave", "n-nobody"}, []string{"invalid_argument", "not in the ring"}},
		{"plan empty", []string{"plan"}, []string{"failed_precondition", "nothing is staged"}},
		{"commit empty", []string{"commit"}, []string{"failed_precondition", "nothing is staged"}},
		{"join needs a node", []string{"join"}, []string{"accepts 1 arg"}},
	}
	for _, tc := range cases {
		// Not parallel: the stage is shared cluster state.
		t.Run(tc.name, func(t *testing.T) {
			_, err := clusterCmd(t, ep, tc.args...)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v, want it to mention %q", err, w)
				}
			}
		})
	}

	// A node that runs without a cluster answers status and refuses staging.
	single := startNode(t)
	if out := mustCluster(t, single, "status"); !strings.Contains(out, "Ring epoch") {
		t.Errorf("status of a single node:\n%s", out)
	}
	if _, err := clusterCmd(t, single, "join", "x"); err == nil {
		t.Errorf("join on a node without a cluster should fail")
	}
}

var progressLineRE = regexp.MustCompile(`(?m)^epoch (\d+): (\d+)/(\d+) partitions, \d+ keys, .*B, .*/s, ETA \S+$`)

func TestClusterJoinPlanCommitWatchLeave(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	ep := c.Nodes[0].API
	for i := range 400 {
		key := fmt.Sprintf("k%04d", i)
		if _, err := c.Nodes[i%3].KV().Put(t.Context(), &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: bytes.Repeat([]byte("v"), 512)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	joiner := c.AddNode()
	id := joiner.ID()
	if row := memberRow(t, mustCluster(t, ep, "status"), id); row[6] != "no" {
		t.Fatalf("a node that only joined gossip should not be in the ring: %v", row)
	}

	// Stage by API address; the stage names the node by ID.
	out := mustCluster(t, ep, "join", joiner.API)
	if !regexp.MustCompile(`join\s+`+id).MatchString(out) || !strings.Contains(out, "concord cluster plan") {
		t.Fatalf("join output:\n%s", out)
	}
	if s := clusterStatus(t, ep); len(s.Staged) != 1 || s.Staged[0].Kind != "KIND_JOIN" || s.Staged[0].NodeID != id {
		t.Fatalf("status should show the staged join: %+v", s.Staged)
	}

	out = mustCluster(t, ep, "plan")
	m := regexp.MustCompile(`Committing makes ring epoch (\d+) and starts (\d+) partition transfers`).FindStringSubmatch(out)
	if m == nil || m[2] == "0" {
		t.Fatalf("plan should announce transfers:\n%s", out)
	}
	nextEpoch, transfers := m[1], m[2]
	if !strings.Contains(out, "List every transfer with --all") || !regexp.MustCompile(`(?m)^`+id+`\s+0\s+[1-9]\d*\s*$`).MatchString(out) {
		t.Fatalf("plan should show the joiner going from 0 partitions to some, and a compact transfer list:\n%s", out)
	}
	all := mustCluster(t, ep, "plan", "--all")
	if rows := regexp.MustCompile(`(?m)^\d+\s+n\S+\s+n\S+\s*$`).FindAllString(all, -1); fmt.Sprint(len(rows)) != transfers {
		t.Fatalf("plan --all lists %d transfers, plan said %s:\n%s", len(rows), transfers, all)
	}
	var plan struct {
		Transfers []struct{ To string } `json:"transfers"`
		NextEpoch string                `json:"nextEpoch"`
	}
	if err := json.Unmarshal([]byte(mustCluster(t, ep, "plan", "-o", "json")), &plan); err != nil || plan.NextEpoch != nextEpoch || fmt.Sprint(len(plan.Transfers)) != transfers {
		t.Fatalf("plan -o json: %v %+v", err, plan)
	}

	out = mustCluster(t, ep, "commit")
	if !strings.Contains(out, "Committed ring epoch "+nextEpoch+": "+transfers+" partition transfers") || !strings.Contains(out, "concord cluster status --watch") {
		t.Fatalf("commit output:\n%s", out)
	}

	// Watch through the node that committed: others learn of the new ring by
	// gossip, and until then they report no handoff.
	out = mustCluster(t, ep, "status", "--watch")
	lines := progressLineRE.FindAllStringSubmatch(out, -1)
	if len(lines) == 0 {
		t.Fatalf("status --watch printed no progress line:\n%s", out)
	}
	if last := lines[len(lines)-1]; last[1] != nextEpoch || last[2] != last[3] || last[3] != transfers {
		t.Errorf("last progress line %q: want epoch %s with %s/%s partitions", last[0], nextEpoch, transfers, transfers)
	}
	if !strings.Contains(out, "Handoff of ring epoch "+nextEpoch+" complete") || !strings.Contains(out, id+" received") {
		t.Fatalf("status --watch should end with a summary:\n%s", out)
	}
	t.Logf("status --watch:\n%s", out)

	out = mustCluster(t, ep, "status")
	if row := memberRow(t, out, id); row[6] != "yes" || row[5] == "0" {
		t.Fatalf("after the commit the joiner should own partitions: %v", row)
	}
	if !strings.Contains(out, "Handoffs: none in progress") {
		t.Fatalf("status after the handoff:\n%s", out)
	}

	// Leave, change our mind, then leave for real.
	leaver := c.Nodes[1].ID()
	if out := mustCluster(t, ep, "leave", leaver); !regexp.MustCompile(`leave\s+` + leaver).MatchString(out) {
		t.Fatalf("leave output:\n%s", out)
	}
	if out := mustCluster(t, ep, "clear"); !strings.Contains(out, "cleared") {
		t.Fatalf("clear output: %q", out)
	}
	if s := clusterStatus(t, ep); len(s.Staged) != 0 {
		t.Fatalf("clear left staged changes: %+v", s.Staged)
	}
	if _, err := clusterCmd(t, ep, "commit"); err == nil || !strings.Contains(err.Error(), "nothing is staged") {
		t.Fatalf("commit after clear: %v", err)
	}
	mustCluster(t, ep, "leave", leaver)
	if out := mustCluster(t, ep, "plan"); !regexp.MustCompile(`(?m)^` + leaver + `\s+[1-9]\d*\s+0\s*$`).MatchString(out) {
		t.Fatalf("plan should show the leaver going to 0 partitions:\n%s", out)
	}
	var commit struct {
		RingEpoch string `json:"ringEpoch"`
	}
	if err := json.Unmarshal([]byte(mustCluster(t, ep, "commit", "-o", "json")), &commit); err != nil || commit.RingEpoch == "" {
		t.Fatalf("commit -o json: %v", err)
	}

	// -o json streams one object per update, the last one complete.
	out = mustCluster(t, ep, "status", "--watch", "-o", "json")
	var last struct {
		RingEpoch string `json:"ringEpoch"`
		Complete  bool   `json:"complete"`
	}
	objs := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(objs[len(objs)-1]), &last); err != nil || !last.Complete || last.RingEpoch != commit.RingEpoch {
		t.Fatalf("status --watch -o json should end with the complete update of epoch %s: %v\n%s", commit.RingEpoch, err, out)
	}
	if row := memberRow(t, mustCluster(t, ep, "status"), leaver); row[6] != "no" || row[5] != "0" {
		t.Fatalf("after the leave the node should own nothing: %v", row)
	}
}
