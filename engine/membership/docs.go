package membership

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
)

const (
	// MaxDocNameLen is the longest document name, in bytes.
	MaxDocNameLen = 255
	// MaxDocSize is the largest document payload. Every push/pull carries
	// the whole document set and memberlist refuses a remote state above
	// 20 MiB, so the documents together must stay well below that.
	MaxDocSize = 4 << 20
)

// Doc is a named, versioned cluster-metadata document (the ring, the
// namespaces, ...). Every node holds the winning version of every name.
//
// Merge rule: the higher Version wins; between equal Versions the one whose
// Data has the larger SHA-256 digest wins (see [Doc.Supersedes]). The rule is
// a total order on (Version, digest), so every node converges to the same
// document whatever order it hears of them in.
type Doc struct {
	Name    string
	Version uint64
	Data    []byte
}

// Sum returns the SHA-256 digest of d.Data, the merge rule's tie-breaker.
func (d Doc) Sum() [32]byte { return sha256.Sum256(d.Data) }

// Supersedes reports whether d wins over other under the merge rule. It is
// false when both are the same document (same Version and Data). Names are
// not compared: the rule only ranks versions of one document.
func (d Doc) Supersedes(other Doc) bool {
	return supersedes(d.Version, d.Sum(), other.Version, other.Sum())
}

func supersedes(v uint64, sum [32]byte, otherV uint64, otherSum [32]byte) bool {
	if v != otherV {
		return v > otherV
	}
	return bytes.Compare(sum[:], otherSum[:]) > 0
}

func (d Doc) validate() error {
	if d.Name == "" || len(d.Name) > MaxDocNameLen {
		return fmt.Errorf("%w: name must be 1..%d bytes, got %d", ErrInvalidDoc, MaxDocNameLen, len(d.Name))
	}
	if len(d.Data) > MaxDocSize {
		return fmt.Errorf("%w: %q has %d bytes of data, limit %d", ErrInvalidDoc, d.Name, len(d.Data), MaxDocSize)
	}
	return nil
}

func (d Doc) clone() Doc {
	d.Data = bytes.Clone(d.Data)
	return d
}

// docEntry is a stored document and its digest.
type docEntry struct {
	doc Doc
	sum [32]byte
}

// docNotifier calls OnDoc from one goroutine, in acceptance order. If a
// newer version of a name is accepted before the older one was handed to
// OnDoc, only the newer one is delivered (versions seen by OnDoc only grow),
// so the backlog is bounded by the number of names.
type docNotifier struct {
	fn func(Doc)

	mu      sync.Mutex
	order   []string
	pending map[string]Doc

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newDocNotifier(fn func(Doc)) *docNotifier {
	n := &docNotifier{
		fn:      fn,
		pending: make(map[string]Doc),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if fn == nil {
		close(n.done)
		return n
	}
	go n.run()
	return n
}

func (n *docNotifier) push(d Doc) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	if _, ok := n.pending[d.Name]; !ok {
		n.order = append(n.order, d.Name)
	}
	n.pending[d.Name] = d.clone()
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *docNotifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.kick:
			n.drain()
		case <-n.stop:
			n.drain()
			return
		}
	}
}

func (n *docNotifier) drain() {
	for {
		n.mu.Lock()
		if len(n.order) == 0 {
			n.mu.Unlock()
			return
		}
		name := n.order[0]
		n.order = n.order[1:]
		d := n.pending[name]
		delete(n.pending, name)
		n.mu.Unlock()
		n.fn(d)
	}
}

// close delivers what is pending and waits for the goroutine to exit.
func (n *docNotifier) close() {
	if n.fn != nil {
		close(n.stop)
	}
	<-n.done
}
