package memnet_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/concord-kv/concord/engine/membership/memnet"
)

const (
	addrA = "127.0.0.1:7946"
	addrB = "127.0.0.2:7946"
	addrC = "127.0.0.3:7946"
)

func TestPacketsAndStreams(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := memnet.NewNetwork()
		a, b := n.NewTransport(addrA), n.NewTransport(addrB)

		ip, port, err := a.FinalAdvertiseAddr("", 0)
		if err != nil || ip.String() != "127.0.0.1" || port != 7946 {
			t.Fatalf("FinalAdvertiseAddr = %v, %d, %v", ip, port, err)
		}
		buf := []byte("ping")
		if _, err := a.WriteTo(buf, addrB); err != nil {
			t.Fatal(err)
		}
		buf[0] = 'X' // the packet was copied
		p := <-b.PacketCh()
		if string(p.Buf) != "ping" || p.From.String() != addrA {
			t.Fatalf("got %q from %v", p.Buf, p.From)
		}

		go func() {
			c := <-b.StreamCh()
			defer c.Close()
			_, _ = io.Copy(c, c) // echo
		}()
		c, err := a.DialTimeout(addrB, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if c.RemoteAddr().String() != addrB || c.LocalAddr().String() != addrA {
			t.Errorf("stream addresses %v -> %v", c.LocalAddr(), c.RemoteAddr())
		}
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 5)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
			t.Fatalf("echo = %q, %v", got, err)
		}
		_ = c.Close()

		if _, err := a.DialTimeout(addrC, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to nobody: %v, want connection refused", err)
		}
		_ = b.Shutdown()
		if _, err := a.DialTimeout(addrB, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to a closed transport: %v, want connection refused", err)
		}
		n.NewTransport(addrB) // the address is free again
	})
}

func TestPartitionIsolateHeal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := memnet.NewNetwork()
		a, b, c := n.NewTransport(addrA), n.NewTransport(addrB), n.NewTransport(addrC)

		reaches := func(from *memnet.Transport, to *memnet.Transport) bool {
			_, _ = from.WriteTo([]byte("x"), to.Addr())
			select {
			case <-to.PacketCh():
				return true
			default:
				return false
			}
		}
		n.Partition([]string{addrA}, []string{addrB})
		if reaches(a, b) || reaches(b, a) || !reaches(a, c) || !reaches(c, b) {
			t.Error("partition {A} | {B} not applied as a cut of A<->B only")
		}
		start := time.Now()
		_, err := a.DialTimeout(addrB, 3*time.Second)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("dial across a cut: %v, want a timeout", err)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("dial across a cut took %v, want the whole 3s timeout", took)
		}

		n.Heal()
		n.Isolate(addrC)
		if !reaches(a, b) || reaches(a, c) || reaches(c, b) {
			t.Error("isolating C did not cut exactly C's links")
		}
		n.Heal()
		if !reaches(a, c) || !reaches(c, a) {
			t.Error("Heal did not restore C")
		}
	})
}

func TestLossIsSeededAndProportional(t *testing.T) {
	t.Parallel()
	const packets = 10000
	run := func() memnet.Stats {
		n := memnet.NewNetwork()
		a, b := n.NewTransport(addrA), n.NewTransport(addrB)
		n.SetLoss(0.2)
		for range packets {
			_, _ = a.WriteTo([]byte("x"), addrB)
			select {
			case <-b.PacketCh():
			default:
			}
		}
		return n.Stats()
	}
	s1, s2 := run(), run()
	if s1 != s2 {
		t.Errorf("same seed, same sequential sends, different outcomes: %+v vs %+v", s1, s2)
	}
	if s1.Sent != packets || s1.Lost+s1.Delivered != packets {
		t.Errorf("stats do not add up: %+v", s1)
	}
	if frac := float64(s1.Lost) / packets; frac < 0.18 || frac > 0.22 {
		t.Errorf("lost %.3f of packets, want ≈ 0.2", frac)
	}
}
