package memnet

import (
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node's endpoint on a [Network]. It implements
// [memberlist.NodeAwareTransport]; pass it as memberlist's Transport.
// It is safe for concurrent use.
type Transport struct {
	network  *Network
	addr     string
	ip       net.IP
	port     int
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// errClosed is returned by a transport that was shut down.
var errClosed = errors.New("memnet: transport closed")

// Addr returns the transport's "ip:port" address.
func (t *Transport) Addr() string { return t.addr }

// FinalAdvertiseAddr returns the transport's own address: memnet routes by
// that address, so a configured advertise address is ignored.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

// WriteTo sends a packet to addr. Like UDP, it reports no error when the
// packet is lost, cut off or has no receiver.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet to a.Addr (a.Name is ignored).
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.closed() {
		return now, errClosed
	}
	dst, cut, lost := t.network.route(t.addr, a.Addr, true)
	if cut || lost {
		return now, nil
	}
	if dst == nil || dst.closed() || len(b) > maxPacket {
		t.network.count(func(s *Stats) { s.Dropped++ })
		return now, nil
	}
	p := &memberlist.Packet{
		Buf:       append([]byte(nil), b...),
		From:      &net.UDPAddr{IP: t.ip, Port: t.port},
		Timestamp: now,
	}
	select {
	case dst.packetCh <- p:
		t.network.count(func(s *Stats) { s.Delivered++ })
	default:
		t.network.count(func(s *Stats) { s.Dropped++ })
	}
	return now, nil
}

// PacketCh returns the inbox of received packets.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream to addr.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream to a.Addr (a.Name is ignored). Across a
// cut link it waits for timeout and fails with a timeout error; to an
// address without an open transport it fails at once.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.closed() {
		return nil, errClosed
	}
	dst, cut, _ := t.network.route(t.addr, a.Addr, false)
	if !cut && (dst == nil || dst.closed()) {
		return nil, t.dialError(a.Addr, syscall.ECONNREFUSED)
	}
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	if cut {
		select {
		case <-expired:
			return nil, t.dialError(a.Addr, os.ErrDeadlineExceeded)
		case <-t.done:
			return nil, errClosed
		}
	}
	client, server := net.Pipe()
	local := &net.TCPAddr{IP: t.ip, Port: t.port}
	remote := &net.TCPAddr{IP: dst.ip, Port: dst.port}
	select {
	case dst.streamCh <- &conn{Conn: server, local: remote, remote: local}:
		return &conn{Conn: client, local: local, remote: remote}, nil
	case <-dst.done:
		err := t.dialError(a.Addr, syscall.ECONNREFUSED)
		_ = client.Close()
		_ = server.Close()
		return nil, err
	case <-expired:
		_ = client.Close()
		_ = server.Close()
		return nil, t.dialError(a.Addr, os.ErrDeadlineExceeded)
	case <-t.done:
		_ = client.Close()
		_ = server.Close()
		return nil, errClosed
	}
}

func (t *Transport) dialError(addr string, err error) error {
	op := &net.OpError{Op: "dial", Net: "tcp", Source: &net.TCPAddr{IP: t.ip, Port: t.port}, Err: err}
	if host, port, splitErr := net.SplitHostPort(addr); splitErr == nil {
		if p, convErr := strconv.Atoi(port); convErr == nil {
			op.Addr = &net.TCPAddr{IP: net.ParseIP(host), Port: p}
		}
	}
	return op
}

// StreamCh returns the queue of accepted streams.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown closes the transport and frees its address. It is idempotent.
func (t *Transport) Shutdown() error {
	t.once.Do(func() {
		close(t.done)
		t.network.remove(t)
	})
	return nil
}

func (t *Transport) closed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// conn is a net.Pipe end that reports TCP addresses, which memberlist logs.
type conn struct {
	net.Conn
	local, remote net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }
