// Command conformance is the Go SDK's runner of the SDK conformance suite
// (sdk/conformance/README.md): it runs every case of the cases file
// through the public API of package concord (sdk/go) against a live
// cluster, prints one line per case and a closing "go: N passed, N failed",
// and exits non-zero when any case fails, when none ran, or when the
// cluster is not given.
//
// It reads CONCORD_ENDPOINTS, CONCORD_TOKEN, CONCORD_CONFORMANCE and
// CONCORD_RUN_ID; sdk/conformance/run sets them:
//
//	sdk/conformance/run go
//	go run ./sdk/conformance/go -run if_absent   # against a cluster you started
//
// The runner is the only place that knows both the suite's terms and the
// SDK's: suite.go reads and checks the file, run.go makes the calls,
// check.go judges what they returned.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	concord "github.com/concord-kv/concord/sdk/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stepTimeout bounds one call.
const stepTimeout = 15 * time.Second

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("run", "", "run only the cases whose name contains this text")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var endpoints []string
	for e := range strings.SplitSeq(getenv("CONCORD_ENDPOINTS"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			endpoints = append(endpoints, e)
		}
	}
	if len(endpoints) == 0 {
		fmt.Fprintln(stderr, "conformance: CONCORD_ENDPOINTS is not set (comma-separated API endpoints of a cluster); sdk/conformance/run starts one and sets it")
		return 2
	}
	path := getenv("CONCORD_CONFORMANCE")
	if path == "" {
		fmt.Fprintln(stderr, "conformance: CONCORD_CONFORMANCE is not set (the path of sdk/conformance/cases.json)")
		return 2
	}
	s, err := loadSuite(path)
	if err != nil {
		fmt.Fprintln(stderr, "conformance:", err)
		return 2
	}
	runID := getenv("CONCORD_RUN_ID")
	if runID == "" {
		runID = fmt.Sprintf("go-%d", time.Now().UnixNano())
	}
	r := &runner{endpoints: endpoints, runID: runID, token: getenv("CONCORD_TOKEN"), client: sdkClients(), timeout: stepTimeout}
	passed, failed := r.runAll(ctx, s, *only, stdout)
	fmt.Fprintf(stdout, "go: %d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		return 1
	}
	return 0
}

// sdkClients returns a factory of SDK clients, one per endpoint and
// credential.
func sdkClients() func(endpoint, token string) kv {
	var (
		mu      sync.Mutex
		clients = map[[2]string]*concord.Client{}
	)
	return func(endpoint, token string) kv {
		mu.Lock()
		defer mu.Unlock()
		k := [2]string{endpoint, token}
		if c, ok := clients[k]; ok {
			return c
		}
		var opts []concord.Option
		if token != "" {
			opts = append(opts, concord.WithToken(token))
		}
		c := concord.New(endpoint, opts...)
		clients[k] = c
		return c
	}
}
