package server

import (
	"bytes"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/internal/metrics"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// refusalGate answers, before Connect reads it, a Get, Put or Delete that
// its namespace's rate limits refuse (node.Refusing): a tenant sending ten
// times its limit costs a node mostly the requests it refuses, and
// decoding each one and running it through the interceptors and the
// handler only to refuse it is a fifth of the CPU a refused request costs
// the node (BenchmarkPutRefused). The gate reads the start of the body, where the
// request's first field, its namespace, is; authenticates the caller; and
// when the namespace's bucket is empty, answers with the same error, in
// the request's protocol, that the handler would have answered, counted
// in the same metrics and namespace numbers.
//
// Everything else goes on to next untouched, with its body as it came:
// other procedures and methods, JSON and compressed bodies, a caller the
// gate cannot authenticate or that may not act in the namespace (the
// interceptors answer those), and every request while no bucket of the
// node refused a request in the last second (then the gate reads nothing).
type refusalGate struct {
	next    http.Handler
	node    *node.Node
	log     *slog.Logger
	rpc     *metrics.RPC
	errors  *connect.ErrorWriter
	numbers namespaceNumbers
}

// gatePrefix is how much of a body the gate reads to find the namespace:
// a gRPC envelope, the field's tag and length, and the longest name, with
// room to spare.
const gatePrefix = 128

// gated are the procedures the gate answers, and what each does.
var gated = map[string]node.RequestKind{
	kvv1connect.KVServiceGetProcedure:    node.ReadRequest,
	kvv1connect.KVServicePutProcedure:    node.WriteRequest,
	kvv1connect.KVServiceDeleteProcedure: node.DeleteRequest,
}

func newRefusalGate(next http.Handler, n *node.Node, log *slog.Logger, rpc *metrics.RPC, opts ...connect.HandlerOption) refusalGate {
	return refusalGate{next: next, node: n, log: log, rpc: rpc, errors: connect.NewErrorWriter(opts...), numbers: namespaceNumbers{node: n}}
}

func (g refusalGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, ok := gated[r.URL.Path]
	if !ok || r.Method != http.MethodPost || !g.node.RefusedRecently() {
		g.next.ServeHTTP(w, r)
		return
	}
	enveloped, ok := binaryProto(r.Header)
	if !ok {
		g.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	prefix := make([]byte, gatePrefix)
	n, err := io.ReadFull(r.Body, prefix)
	prefix = prefix[:n]
	// If the handler runs, it reads the body as it came, read error
	// included.
	var rest io.Reader = r.Body
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		rest = errReader{err}
	}
	r.Body = prefixedBody{Reader: io.MultiReader(bytes.NewReader(prefix), rest), Closer: r.Body}
	ns, ok := namespaceIn(prefix, enveloped)
	if !ok || !g.allowed(r.Header, r.URL.Path, ns) {
		g.next.ServeHTTP(w, r)
		return
	}
	refusal := g.node.Refusing(ns, kind)
	if refusal == nil {
		g.next.ServeHTTP(w, r)
		return
	}
	cerr := toConnect(g.log, refusal)
	_ = g.errors.Write(w, r, cerr)
	g.rpc.Observe(r.URL.Path, start, cerr)
	g.numbers.count(ns, kvOperations[r.URL.Path], time.Since(start), cerr)
}

// allowed reports whether the caller the header names may call procedure
// in namespace ns: only then may it learn that the namespace is refusing.
func (g refusalGate) allowed(header http.Header, procedure, ns string) bool {
	p, err := authorize{node: g.node, log: g.log}.authenticate(header)
	return err == nil && p.Can(ns, rules[procedure].scope)
}

// binaryProto reports whether a request's headers announce an
// uncompressed binary protobuf message the gate can read, and whether it
// comes in a gRPC envelope (gRPC and gRPC-Web) or bare (Connect unary).
func binaryProto(h http.Header) (enveloped, ok bool) {
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false, false
	}
	switch ct {
	case "application/proto":
		enc := h.Get("Content-Encoding")
		return false, enc == "" || enc == "identity"
	case "application/grpc", "application/grpc+proto", "application/grpc-web", "application/grpc-web+proto":
		// A compressed message says so in its envelope (namespaceIn).
		return true, true
	}
	return false, false
}

// namespaceIn finds the namespace, field 1 of every gated request, in the
// start of a body. Encoders write fields in order, so it comes first; a
// body where it does not, or not whole within the prefix, is not read.
func namespaceIn(prefix []byte, enveloped bool) (string, bool) {
	if enveloped {
		const envelope = 5 // flags, then the length
		if len(prefix) < envelope || prefix[0] != 0 {
			return "", false // compressed, or an end-of-stream frame
		}
		prefix = prefix[envelope:]
	}
	num, typ, n := protowire.ConsumeTag(prefix)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return "", false
	}
	name, m := protowire.ConsumeBytes(prefix[n:])
	if m < 0 || len(name) == 0 {
		return "", false
	}
	return string(name), true
}

// prefixedBody is a request body of which the gate read the start.
type prefixedBody struct {
	io.Reader
	io.Closer
}

// errReader returns err on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
