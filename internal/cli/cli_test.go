package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/cli"
	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/internal/testcred"
)

// startNode serves a single in-memory node on loopback and returns its
// endpoint.
func startNode(t *testing.T) string {
	t.Helper()
	cfg := embed.Config{Node: node.DefaultLocalConfig(), APIAddr: "127.0.0.1:0"}
	cfg.Node.Logger = slog.New(slog.DiscardHandler)
	cfg.Node.AdminToken = testcred.AdminToken
	e, err := embed.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return "http://" + e.APIAddr()
}

// run executes the CLI with args, an environment and stdin, and returns
// stdout and the error. The environment holds CONCORD_TOKEN, the test
// nodes' admin credential, unless env sets it.
func run(t *testing.T, env []string, stdin string, args ...string) (string, error) {
	t.Helper()
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "CONCORD_TOKEN=") }) {
		env = append(slices.Clip(env), "CONCORD_TOKEN="+testcred.AdminToken)
	}
	cmd := cli.New(cli.Env{Environ: func() []string { return env }})
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func mustRun(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	out, err := run(t, env, stdin, args...)
	if err != nil {
		t.Fatalf("concord %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var contextRE = regexp.MustCompile(`context: (\S+)`)

func TestKVCommandsRoundTrip(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	e := []string{"--endpoint", ep}

	mustRun(t, nil, "", append([]string{"kv", "put", "greeting", "hello"}, e...)...)
	mustRun(t, nil, "from stdin", append([]string{"kv", "put", "greeting"}, e...)...)
	out := mustRun(t, nil, "", append([]string{"kv", "get", "greeting"}, e...)...)
	if !strings.Contains(out, "hello") || !strings.Contains(out, "from stdin") {
		t.Fatalf("get should show both siblings, got:\n%s", out)
	}
	ctx := contextRE.FindStringSubmatch(out)[1]

	file := filepath.Join(t.TempDir(), "v.txt")
	if err := os.WriteFile(file, []byte("merged"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, "", append([]string{"kv", "put", "greeting", "--file", file, "--context", ctx}, e...)...)
	out = mustRun(t, nil, "", append([]string{"kv", "get", "greeting", "-o", "json"}, e...)...)
	var got struct {
		Found    bool `json:"found"`
		Siblings []struct {
			Value []byte `json:"value"`
		} `json:"siblings"`
		Context string `json:"context"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if !got.Found || len(got.Siblings) != 1 || string(got.Siblings[0].Value) != "merged" {
		t.Fatalf("a put with the read's context should leave one sibling, got %+v", got)
	}

	out = mustRun(t, nil, "", append([]string{"kv", "list"}, e...)...)
	if strings.TrimSpace(out) != "greeting" {
		t.Fatalf("list = %q, want greeting", out)
	}

	if _, err := run(t, nil, "", append([]string{"kv", "delete", "greeting"}, e...)...); err == nil || !strings.Contains(err.Error(), "force") {
		t.Fatalf("delete without context should ask for force, got %v", err)
	}
	out = mustRun(t, nil, "", append([]string{"kv", "get", "greeting"}, e...)...)
	ctx = contextRE.FindStringSubmatch(out)[1]
	mustRun(t, nil, "", append([]string{"kv", "delete", "greeting", "--context", ctx}, e...)...)
	out = mustRun(t, nil, "", append([]string{"kv", "get", "greeting"}, e...)...)
	if !strings.Contains(out, "(not found)") {
		t.Fatalf("after delete, get = %q", out)
	}
}

func TestKVErrorsAreActionable(t *testing.T) {
	t.Parallel()
	ep := startNode(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown namespace", []string{"kv", "get", "k", "-n", "nope"}, "not_found"},
		{"bad context", []string{"kv", "put", "k", "v", "--context", "!!"}, "--context"},
		{"value twice", []string{"kv", "put", "k", "v", "--file", "x"}, "not both"},
		{"bad output", []string{"kv", "get", "k", "-o", "yaml"}, "table or json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(t, nil, "", append(c.args, "--endpoint", ep)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestConfigLayering checks defaults < config file < CONCORD_* env < flags,
// using the endpoint: only the layer on top points at the live node.
func TestConfigLayering(t *testing.T) {
	t.Parallel()
	live := startNode(t)
	const dead = "http://127.0.0.1:1"
	file := filepath.Join(t.TempDir(), "concord.yaml")
	writeConfig := func(endpoint string) {
		if err := os.WriteFile(file, []byte("endpoint: "+endpoint+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	get := func(env []string, args ...string) error {
		_, err := run(t, env, "", append([]string{"kv", "get", "k"}, args...)...)
		return err
	}

	writeConfig(live)
	if err := get(nil, "--config", file); err != nil {
		t.Errorf("config file should set the endpoint: %v", err)
	}
	if err := get([]string{"CONCORD_CONFIG=" + file}); err != nil {
		t.Errorf("CONCORD_CONFIG should name the config file: %v", err)
	}
	writeConfig(dead)
	if err := get([]string{"CONCORD_ENDPOINT=" + live}, "--config", file); err != nil {
		t.Errorf("env should override the config file: %v", err)
	}
	if err := get([]string{"CONCORD_ENDPOINT=" + dead}, "--config", file, "--endpoint", live); err != nil {
		t.Errorf("a flag should override env and file: %v", err)
	}
	if err := get([]string{"CONCORD_ENDPOINT=" + dead}); err == nil {
		t.Errorf("env pointing at a dead endpoint should fail (defaults are overridden)")
	}
	if err := get([]string{"CONCORD_ENDPOINT=" + live}, "-o", "json"); err != nil {
		t.Errorf("env alone should set the endpoint: %v", err)
	}
}

// TestServeAndDevServeUntilCancelled starts `serve` and `dev` in-process on
// free ports (dev also in a --data-dir to be made), writes through them,
// and stops them by cancelling.
func TestServeAndDevServeUntilCancelled(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--data-dir", t.TempDir(), "--api-addr", "127.0.0.1:0", "--peer-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--replicas", "1"},
		{"dev", "--api-addr", "127.0.0.1:0"},
		// A --data-dir that does not exist yet is made.
		{"dev", "--api-addr", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "not", "yet")},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			// serve takes the admin credential from the environment; dev
			// makes one and prints it.
			env := []string{"CONCORD_ADMIN_TOKEN=" + testcred.AdminToken}
			cmd := cli.New(cli.Env{Environ: func() []string { return env }})
			out := &syncBuffer{}
			cmd.SetArgs(args)
			cmd.SetOut(out)
			cmd.SetErr(out)
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()

			addrRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
			var ep string
			for deadline := time.Now().Add(30 * time.Second); ep == "" && time.Now().Before(deadline); {
				ep = addrRE.FindString(out.String())
				if ep == "" {
					select {
					case err := <-done:
						t.Fatalf("%s exited early: %v\n%s", args[0], err, out.String())
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			if ep == "" {
				t.Fatalf("%s printed no endpoint:\n%s", args[0], out.String())
			}
			var tokEnv []string // serve: the test credential run adds
			if args[0] == "dev" {
				m := regexp.MustCompile(`export CONCORD_TOKEN=(\S+)`).FindStringSubmatch(out.String())
				if m == nil {
					t.Fatalf("dev printed no export line:\n%s", out.String())
				}
				tokEnv = []string{"CONCORD_TOKEN=" + m[1]}
				if _, err := run(t, nil, "", "kv", "get", "k", "--endpoint", ep); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
					t.Fatalf("dev accepted another credential: %v", err)
				}
			}
			mustRun(t, tokEnv, "", "kv", "put", "k", "v", "--endpoint", ep)
			if got := mustRun(t, tokEnv, "", "kv", "get", "k", "--endpoint", ep); !strings.Contains(got, "v") {
				t.Fatalf("get through %s = %q", args[0], got)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("%s after cancel: %v", args[0], err)
			}
		})
	}
}

func TestServeNeedsDataDir(t *testing.T) {
	t.Parallel()
	if _, err := run(t, nil, "", "serve"); err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("serve without --data-dir: %v", err)
	}
	if _, err := run(t, nil, "", "serve", "--data-dir", t.TempDir(), "--log-format", "xml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("bad log format: %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out := mustRun(t, nil, "", "version")
	if !strings.HasPrefix(out, "concord ") {
		t.Fatalf("version = %q", out)
	}
	out = mustRun(t, nil, "", "version", "-o", "json")
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["version"] == "" {
		t.Fatalf("version -o json = %q (%v)", out, err)
	}
}
