package main

import (
	"net/http"

	"github.com/concord-kv/concord/internal/bench"
	concord "github.com/concord-kv/concord/sdk/go"
)

// sdkClients opens n clients of the Go SDK spread over endpoints (client i
// calls endpoint i mod len(endpoints)), each keeping its own HTTP/1.1
// connection alive, exactly as `concord bench` does. The concord and bare
// peers both use it, so between them only the server differs.
func sdkClients(n int, endpoints []string, namespace, token, updates string) ([]bench.Store, func()) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	httpClient := &http.Client{Transport: tr}
	sdks := make([]*concord.Client, len(endpoints))
	for i, e := range endpoints {
		sdks[i] = concord.New(e, concord.WithHTTPClient(httpClient), concord.WithNamespace(namespace), concord.WithToken(token))
	}
	out := make([]bench.Store, n)
	for i := range out {
		out[i] = bench.NewSDKStore(sdks[i%len(sdks)], updates)
	}
	return out, tr.CloseIdleConnections
}
