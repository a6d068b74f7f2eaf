package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-kv/concord/internal/bench"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// barePeer is concord's own KV service with a handler that answers at once:
// the cost of the Connect RPC, HTTP/1.1 and Protobuf on both ends, with
// nothing behind them. It runs as a separate process (this program's
// bare-server command) and is driven by the same Go SDK clients as
// concord, so the two differ only in the server.
var barePeer = peer{
	name:  "bare",
	about: "concord's KV service (Connect) in its own process with a handler that answers at once: Get returns one sibling of --value-size bytes and a 48-byte context, Put an empty success",
	start: func(ctx context.Context, e *env) (instance, error) {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		addr := loopback(ports[0])
		s, err := startServer(e.dir, "bare", nil, e.self, "bare-server", "--addr", addr, "--value-size", strconv.Itoa(e.valueSize))
		if err != nil {
			return nil, err
		}
		if err := waitTCP(ctx, s, addr, 30*time.Second); err != nil {
			stopAll([]*server{s})
			return nil, err
		}
		return &bareInstance{s: s, endpoint: "http://" + addr, updates: e.updates}, nil
	},
}

type bareInstance struct {
	s        *server
	endpoint string
	updates  string
}

func (b *bareInstance) clients(_ context.Context, n int) ([]bench.Store, func(), error) {
	stores, closeIdle := sdkClients(n, []string{b.endpoint}, "bench", "bare-server-takes-any-credential", b.updates)
	return stores, closeIdle, nil
}

func (b *bareInstance) pids() []int                 { return []int{b.s.pid()} }
func (b *bareInstance) versions() map[string]string { return nil }
func (b *bareInstance) close() error                { stopAll([]*server{b.s}); return nil }

// bareContextBytes is the size of the context the bare Get returns: what
// concord returns for a key written once (one node ID and its counter).
const bareContextBytes = 48

// bareKV answers every Get with the same found value and every Put with an
// empty success. Its answers are built once and only read after (Protobuf
// messages may be marshalled concurrently).
type bareKV struct {
	kvv1connect.UnimplementedKVServiceHandler
	get *kvv1.GetResponse
	put *kvv1.PutResponse
}

func newBareKV(valueSize int) *bareKV {
	return &bareKV{
		get: &kvv1.GetResponse{
			Found:    true,
			Siblings: []*kvv1.Sibling{{Value: make([]byte, valueSize), WrittenAt: timestamppb.Now()}},
			Context:  make([]byte, bareContextBytes),
			Replies:  2,
		},
		put: &kvv1.PutResponse{},
	}
}

func (b *bareKV) Get(context.Context, *kvv1.GetRequest) (*kvv1.GetResponse, error) { return b.get, nil }
func (b *bareKV) Put(context.Context, *kvv1.PutRequest) (*kvv1.PutResponse, error) { return b.put, nil }

// serveBare serves the bare KV service on addr until ctx ends, over
// HTTP/1.1 and h2c as concord's API listener does, with the same
// compression threshold.
func serveBare(ctx context.Context, addr string, valueSize int) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(kvv1connect.NewKVServiceHandler(newBareKV(valueSize), connect.WithCompressMinBytes(1024)))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: mux, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
