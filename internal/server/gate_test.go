package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/concord-kv/concord/internal/testcred"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// TestRefusalsWhileFlooded: while a namespace's writes are being refused
// (so that the server answers them before decoding them: gate.go), a
// refused write still gets RESOURCE_EXHAUSTED with its LimitExceeded
// detail in every protocol; a caller that may not write the namespace
// gets the answer it always gets, not the refusal; and every other
// request — another namespace's writes with values longer than what the
// gate reads of a body, reads of the flooded one — goes through whole.
func TestRefusalsWhileFlooded(t *testing.T) {
	t.Parallel()
	ps := append(protocols[:len(protocols):len(protocols)], protocol{name: "grpc_web", opts: []connect.ClientOption{connect.WithGRPCWeb()}})
	forProtocols(t, ps, func(t *testing.T, c *client) {
		ctx := t.Context()
		c.createNamespace(t, &adminv1.Namespace{Name: "flooded", Limits: &adminv1.Limits{WritesPerSecond: 1}})
		c.createNamespace(t, &adminv1.Namespace{Name: "other"})
		_, writer := newToken(t, c.admin, "flooded", write)
		_, reader := newToken(t, c.admin, "flooded", read)
		_, stranger := newToken(t, c.admin, "other", read, write)

		put := &kvv1.PutRequest{Namespace: "flooded", Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 300)}
		refused := 0
		for range 20 {
			_, err := c.kv.Put(ctx, put)
			if err == nil {
				continue
			}
			refused++
			ce := wantError(t, err, connect.CodeResourceExhausted, "writes_per_second", "retry after")
			if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != "writes_per_second" || d.GetMax() != 1 || d.GetRetryAfterMs() < 1 || d.GetRetryAfterMs() > 1000 {
				t.Errorf("LimitExceeded = %v, want writes_per_second, max 1, a retry delay of 1 to 1000 ms", d)
			}
		}
		if refused < 10 {
			t.Fatalf("%d of 20 back-to-back writes at 1/s refused, want most", refused)
		}

		as := func(tok string) kvv1connect.KVServiceClient {
			return kvv1connect.NewKVServiceClient(newAnonHTTPClient(t, true), c.url, slices.Concat(c.proto.opts, []connect.ClientOption{connect.WithInterceptors(concord.Bearer(tok))})...)
		}
		if _, err := as(writer).Put(ctx, put); err != nil {
			wantError(t, err, connect.CodeResourceExhausted, "writes_per_second")
		}
		// Those who may not write the namespace learn nothing of its rate.
		_, err := as(stranger).Put(ctx, put)
		wantError(t, err, connect.CodeNotFound, "flooded")
		_, err = as(reader).Put(ctx, put)
		wantError(t, err, connect.CodePermissionDenied, "write")
		_, err = as("not-a-token").Put(ctx, put)
		wantError(t, err, connect.CodeUnauthenticated)

		for i := range 5 {
			value := bytes.Repeat([]byte{byte('a' + i)}, 200*(i+1))
			key := fmt.Sprintf("k%d", i)
			c.put(t, &kvv1.PutRequest{Namespace: "other", Key: []byte(key), Value: value})
			if got := c.get(t, "other", key).GetSiblings(); len(got) != 1 || !bytes.Equal(got[0].GetValue(), value) {
				t.Fatalf("read back a %d-byte value written while another namespace is refused: %v", len(value), got)
			}
		}
		if _, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "flooded", Key: []byte("k")}); err != nil {
			t.Errorf("a read of the flooded namespace (reads are not limited): %v", err)
		}
	})
}

// TestRefusalAnsweredUnread: while a namespace's writes are refused, a
// Connect-protocol Put of it is answered from the start of its body, as
// the refusal, even when the rest would not decode; the same body naming
// another namespace goes to the handler whole, which refuses it as
// malformed.
func TestRefusalAnsweredUnread(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t), protocols[0])
	c.createNamespace(t, &adminv1.Namespace{Name: "flooded", Limits: &adminv1.Limits{WritesPerSecond: 1}})
	c.createNamespace(t, &adminv1.Namespace{Name: "other"})
	body := func(namespace string) []byte {
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendString(b, namespace)
		return append(b, 0xff, 0xff, 0xff) // a truncated field: not a message
	}
	post := func(namespace string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.url+kvv1connect.KVServicePutProcedure, bytes.NewReader(body(namespace)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/proto")
		res, err := testcred.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e struct{ Code string }
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("POST %s: %d, %q is not a Connect error: %v", namespace, res.StatusCode, b, err)
		}
		return res.StatusCode, e.Code
	}
	// A token comes back every second: the refusal is retried until one
	// lands between a refused write and the next token.
	answered := false
	for range 10 {
		for range 3 { // at least one refused by the handler
			_, _ = c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: "flooded", Key: []byte("k"), Value: []byte("v")})
		}
		if status, code := post("flooded"); code == "resource_exhausted" && status == http.StatusTooManyRequests {
			answered = true
			break
		} else if code != "invalid_argument" {
			t.Fatalf("a malformed Put of the flooded namespace: %d %s, want resource_exhausted (or, with a token back, invalid_argument)", status, code)
		}
	}
	if !answered {
		t.Error("no malformed Put of the flooded namespace was refused before it was decoded")
	}
	if status, code := post("other"); code != "invalid_argument" {
		t.Errorf("a malformed Put of another namespace: %d %s, want invalid_argument from the handler", status, code)
	}
}
