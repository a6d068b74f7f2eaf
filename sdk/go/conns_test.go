package concord_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	concord "github.com/concord-kv/concord/sdk/go"
)

// TestDefaultClientKeepsConnections: a Client made without an HTTP client
// of its own keeps its HTTP/1.1 connections to a node alive for as many
// goroutines as call at once, rather than closing all but two once they
// are idle (http.DefaultClient keeps two idle connections per host) and
// opening them again at the next burst of calls. The calls go through a
// proxy that counts the connections the client opens.
func TestDefaultClientKeepsConnections(t *testing.T) {
	t.Parallel()
	node := procs.Start(t, t.TempDir(), "--replicas", "1")
	target, err := url.Parse(node.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int64
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	proxy.Start()
	t.Cleanup(proxy.Close)

	c := concord.New(proxy.URL, concord.WithToken(testcred.AdminToken))
	// Bursts: every caller calls once, then all wait for the others. Each
	// burst leaves callers idle connections, which the next one uses.
	const callers, bursts = 16, 10
	for range bursts {
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				if _, err := c.Get(t.Context(), []byte{byte('a' + i)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// At most one per caller, give or take a connection handed back a
	// moment after a caller of the next burst asked for one.
	if n := opened.Load(); n > 2*callers {
		t.Errorf("%d bursts of %d concurrent calls opened %d connections, want at most %d", bursts, callers, n, 2*callers)
	}
}
