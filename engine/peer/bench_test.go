package peer_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/peer"
)

// benchClient serves a peer handler holding one 256-byte object and
// returns a client of it over HTTP/1.1 keep-alive connections as nodes
// call each other (peer.NewPlaintextClient), or over h2c (the transport
// before, measured in docs/performance.md).
func benchClient(b *testing.B, h1 bool) *peer.Client {
	l := newMemLocal()
	l.put(3, peer.Object{Namespace: "ns", Key: []byte("k"), Object: value("node-a", string(make([]byte, 256)))})
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(b, mux)
	var hc peer.HTTPClient = peer.NewPlaintextClient(nil)
	if !h1 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		hc = &http.Client{Transport: &http.Transport{Protocols: &p, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext, MaxIdleConnsPerHost: 256}}
	}
	return peer.NewClient("self", hc, func(id string) (string, bool) { return addr, true })
}

// BenchmarkPeerRead is one peer Read, client and handler in this process:
// with the cores saturated by parallel callers, ns/op is about the CPU a
// call costs on both sides together.
func BenchmarkPeerRead(b *testing.B) {
	for _, h1 := range []bool{false, true} {
		name := "h2c"
		if h1 {
			name = "http1"
		}
		b.Run(name, func(b *testing.B) {
			c := benchClient(b, h1)
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Read(b.Context(), "other", "ns", []byte("k")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
