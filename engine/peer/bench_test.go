package peer_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/wait"
)

// benchClient serves a peer handler holding one 256-byte object and
// returns a client of it, over the transport named: "stream" (peer streams,
// as nodes call each other), "http1" (Connect over HTTP/1.1 keep-alive
// connections, the transport before streams) or "h2c" (Connect over
// HTTP/2, the one before that; both measured in docs/performance.md).
func benchClient(b *testing.B, transport string) *peer.Client {
	l := newMemLocal()
	l.put(3, peer.Object{Namespace: "ns", Key: []byte("k"), Object: value("node-a", string(make([]byte, 256)))})
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(b, mux)
	var hc peer.HTTPClient = peer.NewPlaintextClient(nil)
	if transport == "h2c" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		hc = &http.Client{Transport: &http.Transport{Protocols: &p, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext, MaxIdleConnsPerHost: 256}}
	}
	c := peer.NewClient("self", hc, func(id string) (string, bool) { return addr, true })
	if transport != "stream" {
		c.DisableStreams()
		return c
	}
	if err := wait.Until(b.Context(), func() bool { return c.Streaming("other") }); err != nil {
		b.Fatalf("the stream did not open: %v", err)
	}
	return c
}

// BenchmarkPeerRead is one peer Read, client and handler in this process:
// with the cores saturated by parallel callers, ns/op is about the CPU a
// call costs on both sides together. Concurrent reads share requests
// (coalesce.go); Serial makes one call at a time.
func BenchmarkPeerRead(b *testing.B) {
	for _, transport := range []string{"h2c", "http1", "stream"} {
		b.Run(transport, func(b *testing.B) {
			c := benchClient(b, transport)
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
		b.Run(transport+"/serial", func(b *testing.B) {
			c := benchClient(b, transport)
			for b.Loop() {
				if _, err := c.Read(b.Context(), "other", "ns", []byte("k")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTransfer pulls a partition of 2,560 objects of 100 random bytes
// (ten messages of the default batch, each large enough to be gzipped),
// client and handler in this process: ns/object is about the CPU a handoff
// spends on the wire per object, sender and receiver together.
func BenchmarkTransfer(b *testing.B) {
	const n = 2560
	l := newMemLocal()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		l.put(3, peer.Object{Namespace: "ns", Key: fmt.Appendf(nil, "user%012d", i), Object: value("node-a", string(v))})
	}
	mux := http.NewServeMux()
	mux.Handle(peer.NewHandler(l, nil))
	addr, _ := serve(b, mux)
	c := peer.NewClient("self", peer.NewPlaintextClient(nil), func(id string) (string, bool) { return addr, true })
	b.ResetTimer()
	for range b.N {
		t := c.Transfer(b.Context(), "other", peer.TransferRequest{Partition: 3})
		got := 0
		for t.Next() {
			got++
		}
		if err := t.Err(); err != nil || got != n {
			b.Fatalf("transferred %d objects, err %v; want %d", got, err, n)
		}
		t.Close()
		<-l.transferred
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
}
