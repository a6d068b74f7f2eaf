package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/embed"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// preflight sends the OPTIONS request a browser sends before a cross-origin
// Connect call from origin.
func preflight(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url+kvv1connect.KVServiceGetProcedure, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type") // as browsers send it: lower case, sorted
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res
}

// TestCORSIsOptIn: without CORSOrigins a browser's preflight gets no
// permission; with it, a listed origin may send the Authorization and
// Connect headers, and another origin may not.
func TestCORSIsOptIn(t *testing.T) {
	t.Parallel()
	const app = "http://app.test:5173"

	closed := startNode(t, nil).APIURL()
	if res := preflight(t, closed, app); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: preflight allowed origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}

	open := startNode(t, func(c *embed.Config) { c.Server.CORSOrigins = []string{app} }).APIURL()
	res := preflight(t, open, app)
	if res.StatusCode/100 != 2 || res.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("CORS on: preflight from %s: status %d, allow-origin %q", app, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "content-type", "connect-protocol-version"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}
	if res := preflight(t, open, "http://elsewhere.test"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin was allowed: %q", res.Header.Get("Access-Control-Allow-Origin"))
	}

	// A real call from the listed origin is answered with its CORS header.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, open+kvv1connect.KVServiceGetProcedure,
		strings.NewReader(`{"namespace":"default","key":"aw=="}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", app)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = got.Body.Close()
	if got.StatusCode != http.StatusOK || got.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("Get from %s: status %d, allow-origin %q", app, got.StatusCode, got.Header.Get("Access-Control-Allow-Origin"))
	}
}
