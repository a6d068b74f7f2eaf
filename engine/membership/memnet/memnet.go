// Package memnet is an in-memory, fault-injecting network for
// [github.com/hashicorp/memberlist]: a [Network] hands out one [Transport]
// per node address, and the test decides which packets arrive.
//
// memberlist's own MockNetwork delivers every packet and blocks when a
// receiver stops reading; memnet exists because failure detection, gossip
// and anti-entropy can only be tested if packets can be lost and links cut:
//
//   - [Network.SetLoss] drops each packet (the UDP side) with probability p,
//     drawn from a seeded random source;
//   - [Network.Partition] cuts every link between two groups of addresses,
//     [Network.Isolate] cuts every link of one address, [Network.Heal]
//     restores them all.
//
// Streams (the TCP side: push/pull, joins, fallback pings) are reliable
// [net.Pipe] pairs. A dial across a cut link behaves like a dial into a
// black hole: it waits for its whole timeout and then fails with a timeout
// error. A dial to an address with no open transport fails at once
// ("connection refused"). A stream already established when a link is cut
// keeps working; memberlist's streams are short-lived, so this does not
// matter in practice.
//
// Addresses are "ip:port" strings that parse as IP addresses (for example
// "127.0.0.2:7946"), so memberlist never resolves names; nothing is sent on a
// real network. Packets to a full inbox are dropped, as a full UDP socket
// buffer would.
//
// Everything memnet does is driven by channels, mutexes and timers, so it
// works inside a [testing/synctest] bubble: create the Network and its
// transports inside the bubble, and dial timeouts elapse on fake time.
// Packet loss is drawn from one seeded source, but which packet meets which
// draw depends on goroutine scheduling, so a lossy run is reproducible only
// in distribution, not packet for packet.
//
// A Network and its Transports are safe for concurrent use.
package memnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"

	"github.com/hashicorp/memberlist"
)

const (
	// inboxSize is the number of packets a transport buffers before it drops.
	inboxSize = 1024
	// backlogSize is the number of accepted but unhandled streams.
	backlogSize = 64
	// maxPacket is the largest packet delivered (the UDP payload limit).
	maxPacket = 65507
)

// link is a directed pair of addresses.
type link struct{ from, to string }

// Network is a set of in-memory transports that can reach each other.
// The zero value is not usable; call [NewNetwork].
type Network struct {
	mu         sync.Mutex
	rng        *rand.Rand
	loss       float64
	transports map[string]*Transport
	cut        map[link]bool
	isolated   map[string]bool
	stats      Stats
}

// Stats counts what happened to packets on a [Network].
type Stats struct {
	Sent      uint64 // packets handed to WriteTo
	Delivered uint64 // packets put in a receiver's inbox
	Lost      uint64 // dropped by SetLoss
	Cut       uint64 // dropped by a partition or isolation
	Dropped   uint64 // no receiver, receiver full, or too large
}

// NewNetwork returns an empty network with no loss and no partitions; its
// random source is seeded with 1 (see [Network.SetSeed]).
func NewNetwork() *Network {
	return &Network{
		rng:        rand.New(rand.NewPCG(1, 0)),
		transports: make(map[string]*Transport),
		cut:        make(map[link]bool),
		isolated:   make(map[string]bool),
	}
}

// SetSeed reseeds the random source used for packet loss.
func (n *Network) SetSeed(seed uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rng = rand.New(rand.NewPCG(seed, 0))
}

// SetLoss makes every packet (not stream) get lost with probability p,
// 0 ≤ p ≤ 1. SetLoss(0) restores a loss-free network.
func (n *Network) SetLoss(p float64) {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("memnet: loss %v out of [0, 1]", p))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss = p
}

// Partition cuts every link between an address in a and an address in b,
// in both directions. Cuts accumulate until [Network.Heal].
func (n *Network) Partition(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[link{x, y}] = true
			n.cut[link{y, x}] = true
		}
	}
}

// Isolate cuts every link to and from addr until [Network.Heal].
func (n *Network) Isolate(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[addr] = true
}

// Heal removes every partition and isolation. Loss stays as set.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	clear(n.isolated)
}

// Stats returns the packet counters so far.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// NewTransport opens a transport at addr, which must be "ip:port" with a
// literal IP. It panics if addr is malformed or already open (a transport
// that was shut down frees its address, so a restarted node can reuse it).
func (n *Network) NewTransport(addr string) *Transport {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		panic(fmt.Sprintf("memnet: bad address %q: %v", addr, err))
	}
	ip := net.ParseIP(host)
	port, err := strconv.Atoi(portStr)
	if ip == nil || err != nil || port <= 0 || port > 65535 {
		panic(fmt.Sprintf("memnet: address %q is not ip:port", addr))
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	t := &Transport{
		network:  n,
		addr:     addr,
		ip:       ip,
		port:     port,
		packetCh: make(chan *memberlist.Packet, inboxSize),
		streamCh: make(chan net.Conn, backlogSize),
		done:     make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.transports[addr]; ok {
		panic(fmt.Sprintf("memnet: address %q already in use", addr))
	}
	n.transports[addr] = t
	return t
}

// route returns the open transport at to, whether the link from→to is cut,
// and (for packets) whether the packet is lost.
func (n *Network) route(from, to string, packet bool) (dst *Transport, cut, lost bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if packet {
		n.stats.Sent++
	}
	dst = n.transports[to]
	cut = n.isolated[from] || n.isolated[to] || n.cut[link{from, to}]
	if packet && !cut && n.loss > 0 && n.rng.Float64() < n.loss {
		lost = true
	}
	if packet {
		switch {
		case cut:
			n.stats.Cut++
		case lost:
			n.stats.Lost++
		}
	}
	return dst, cut, lost
}

func (n *Network) count(f func(*Stats)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(&n.stats)
}

func (n *Network) remove(t *Transport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.transports[t.addr] == t {
		delete(n.transports, t.addr)
	}
}
