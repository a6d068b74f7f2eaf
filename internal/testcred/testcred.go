// Package testcred is the admin credential every test cluster runs with
// (internal/clustertest, internal/procs and the tests over them), and an
// HTTP client that sends it: every test runs with authentication on.
package testcred

import "net/http"

// AdminToken is the test clusters' admin credential.
const AdminToken = "test-admin-credential-0123456789"

// HTTPClient is http.DefaultClient sending AdminToken.
var HTTPClient = Client(http.DefaultTransport)

// Client is an HTTP client over next that sends AdminToken on every
// request that carries no Authorization header.
func Client(next http.RoundTripper) *http.Client {
	return &http.Client{Transport: Transport{Next: next}}
}

// Transport sets the admin credential on requests that carry none.
type Transport struct{ Next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+AdminToken)
	}
	return t.Next.RoundTrip(r)
}
