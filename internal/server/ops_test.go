package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

func TestHealthSaysServing(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		health := grpchealth.NewClient(c.http, c.url, c.proto.opts...)
		for _, service := range []string{"", kvv1connect.KVServiceName, adminv1connect.AdminServiceName} {
			res, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
			if err != nil {
				t.Fatalf("Check(%q): %v", service, err)
			}
			if res.Status != grpchealth.StatusServing {
				t.Errorf("Check(%q): %v, want SERVING", service, res.Status)
			}
		}
		_, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: "no.such.Service"})
		wantError(t, err, connect.CodeNotFound)
	})
}

func TestReflectionListsTheServices(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		// Reflection is a bidi stream: it needs HTTP/2 whatever the protocol.
		stream := grpcreflect.NewClient(c.h2c, c.adminURL, c.proto.opts...).NewStream(t.Context())
		defer func() { _, _ = stream.Close() }()
		names, err := stream.ListServices()
		if err != nil {
			t.Fatalf("ListServices: %v", err)
		}
		for _, want := range []string{kvv1connect.KVServiceName, adminv1connect.AdminServiceName} {
			if !slices.ContainsFunc(names, func(n protoreflect.FullName) bool { return string(n) == want }) {
				t.Errorf("ListServices: %v does not hold %s", names, want)
			}
		}
		files, err := stream.FileContainingSymbol(kvv1connect.KVServiceName)
		if err != nil {
			t.Fatalf("FileContainingSymbol: %v", err)
		}
		if len(files) == 0 || files[0].GetName() != "concord/kv/v1/kv.proto" {
			t.Errorf("FileContainingSymbol(%s): %d files, want concord/kv/v1/kv.proto first", kvv1connect.KVServiceName, len(files))
		}
	})
}

func TestLivezAndReadyzAnswerOK(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	for _, h2c := range []bool{false, true} {
		hc := newHTTPClient(t, h2c)
		for _, path := range []string{"/livez", "/readyz"} {
			status, body := httpGet(t, hc, url+path)
			if status != http.StatusOK || body != "ok\n" {
				t.Errorf("GET %s (h2c=%v): %d %q, want 200 \"ok\\n\"", path, h2c, status, body)
			}
		}
	}
}

func TestMetricsCountRPCsByProcedureAndCode(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		c.blindPut(t, "a", "1")
		c.blindPut(t, "b", "2")
		c.get(t, ns, "a")
		c.blindPut(t, "b", "3") // a second blind put: b has two versions
		c.get(t, ns, "b")
		c.get(t, ns, "absent") // found nothing: no version counted
		_, err := c.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns})
		wantError(t, err, connect.CodeInvalidArgument)
		if _, err := listPages(t.Context(), c, &kvv1.ListKeysRequest{Namespace: ns}); err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		if _, err := c.admin.ListNamespaces(t.Context(), &adminv1.ListNamespacesRequest{}); err != nil {
			t.Fatalf("ListNamespaces: %v", err)
		}

		status, body := httpGet(t, c.http, c.adminURL+"/metrics")
		if status != http.StatusOK {
			t.Fatalf("GET /metrics: %d", status)
		}
		for _, want := range []string{
			`concord_rpc_requests_total{code="ok",procedure="/concord.kv.v1.KVService/Put"} 3`,
			`concord_rpc_requests_total{code="ok",procedure="/concord.kv.v1.KVService/Get"} 3`,
			`concord_rpc_requests_total{code="invalid_argument",procedure="/concord.kv.v1.KVService/Get"} 1`,
			`concord_rpc_requests_total{code="ok",procedure="/concord.kv.v1.KVService/ListKeys"} 1`,
			`concord_rpc_requests_total{code="ok",procedure="/concord.admin.v1.AdminService/ListNamespaces"} 1`,
			`concord_rpc_duration_seconds_count{procedure="/concord.kv.v1.KVService/Put"} 3`,
			`concord_read_versions_total{namespace="` + ns + `",versions="1"} 1`,
			`concord_read_versions_total{namespace="` + ns + `",versions="2"} 1`,
		} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("/metrics has no line %s", want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", grepLines(body, "concord_rpc_requests_total"))
		}
	})
}

// TestOnlyResponsesOfAtLeast8KiBAreCompressed sends raw requests that
// accept gzip and looks at the wire: a small Get answer goes uncompressed, a
// large one compressed, and both decode to the stored value.
func TestOnlyResponsesOfAtLeast8KiBAreCompressed(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, c *client) {
		for _, tt := range []struct {
			size           int
			wantCompressed bool
		}{
			{size: 10, wantCompressed: false},
			{size: 2 << 10, wantCompressed: false},
			{size: 5 << 10, wantCompressed: false}, // under 8 KiB in JSON (base64) too
			{size: 12 << 10, wantCompressed: true},
			{size: 256 << 10, wantCompressed: true},
		} {
			key := fmt.Sprintf("v%d", tt.size)
			value := bytes.Repeat([]byte("concord "), tt.size/8+1)[:tt.size]
			c.blindPut(t, key, string(value))
			compressed, res := rawGet(t, c, &kvv1.GetRequest{Namespace: ns, Key: []byte(key)})
			if compressed != tt.wantCompressed {
				t.Errorf("Get of a %d-byte value: compressed=%v, want %v", tt.size, compressed, tt.wantCompressed)
			}
			if len(res.GetSiblings()) != 1 || !bytes.Equal(res.GetSiblings()[0].GetValue(), value) {
				t.Errorf("Get of a %d-byte value: answer does not hold the value", tt.size)
			}
		}
	})
}

// rawGet calls Get with net/http in c's protocol, accepting gzip, and
// reports whether the answer came compressed.
func rawGet(t *testing.T, c *client, req *kvv1.GetRequest) (compressed bool, res *kvv1.GetResponse) {
	t.Helper()
	isGRPC := c.proto.name == "grpc"
	isJSON := c.proto.name == "connect_json"
	marshal, unmarshal := proto.Marshal, proto.Unmarshal
	contentType := "application/proto"
	if isJSON {
		marshal, unmarshal = protojson.Marshal, protojson.Unmarshal
		contentType = "application/json"
	}
	body, err := marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if isGRPC {
		body = append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body))), body...)
		contentType = "application/grpc"
	}
	hreq, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.url+kvv1connect.KVServiceGetProcedure, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", contentType)
	if isGRPC {
		hreq.Header.Set("Te", "trailers")
		hreq.Header.Set("Grpc-Accept-Encoding", "gzip")
	} else {
		hreq.Header.Set("Connect-Protocol-Version", "1")
		hreq.Header.Set("Accept-Encoding", "gzip") // set by hand, so net/http leaves the body as sent
	}
	hres, err := c.http.Do(hreq)
	if err != nil {
		t.Fatalf("POST Get: %v", err)
	}
	defer hres.Body.Close()
	data, err := io.ReadAll(hres.Body)
	if err != nil {
		t.Fatalf("read Get answer: %v", err)
	}
	if hres.StatusCode != http.StatusOK {
		t.Fatalf("POST Get: %s: %q", hres.Status, data)
	}
	if isGRPC {
		if s := hres.Trailer.Get("Grpc-Status"); s != "0" {
			t.Fatalf("grpc-status %q (%s)", s, hres.Trailer.Get("Grpc-Message"))
		}
		if len(data) < 5 || int(binary.BigEndian.Uint32(data[1:5])) != len(data)-5 {
			t.Fatalf("answer is not one gRPC message: %d bytes", len(data))
		}
		compressed = data[0]&1 == 1
		if enc := hres.Header.Get("Grpc-Encoding"); compressed && enc != "gzip" {
			t.Fatalf("compressed message with grpc-encoding %q", enc)
		}
		data = data[5:]
	} else {
		switch enc := hres.Header.Get("Content-Encoding"); enc {
		case "", "identity":
		case "gzip":
			compressed = true
		default:
			t.Fatalf("Content-Encoding %q", enc)
		}
	}
	if compressed {
		data = gunzip(t, data)
	}
	res = &kvv1.GetResponse{}
	if err := unmarshal(data, res); err != nil {
		t.Fatalf("decode Get answer: %v", err)
	}
	return compressed, res
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func httpGet(t *testing.T, hc *http.Client, url string) (status int, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, string(b)
}

func grepLines(text, substr string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
