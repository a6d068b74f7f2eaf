package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/storage"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
	"github.com/concord-kv/concord/engine/storage/storagetest"
)

// lockedBuffer collects log output written from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPutOnAFailedFsync runs a node on a disk whose WAL fsync starts
// failing: the Put that needed the fsync is answered UNAVAILABLE, never
// with success, the node logs why, and it serves nothing more until it
// restarts. After a crash, every Put it acknowledged is there.
func TestPutOnAFailedFsync(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	disk := pebbletest.NewDisk()
	var logs lockedBuffer
	cfg := node.DefaultLocalConfig() // its namespaces sync every write
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.DataDir, cfg.FS = pebbletest.Dir, disk.FS()
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	put := func(n *node.Node, i int) error {
		_, err := n.Put(ctx, node.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
		return err
	}
	const acked = 10
	for i := range acked {
		if err := put(n, i); err != nil {
			t.Fatalf("Put before the fault: %v", err)
		}
	}

	if err := n.Healthy(); err != nil {
		t.Fatalf("Healthy before the fault: %v", err)
	}
	disk.Inject(storagetest.FailSync)
	err = put(n, acked)
	if err == nil {
		t.Fatal("a Put was acknowledged although its fsync failed")
	}
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Put on a failed fsync: %v, want ErrUnavailable", err)
	}
	if disk.Injected() == 0 {
		t.Fatal("the disk injected no fault: the test checked nothing")
	}
	if strings.Contains(err.Error(), "injected") {
		t.Errorf("the client's error carries the storage error's text: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "storage failure") || !strings.Contains(out, storage.ErrFailed.Error()) {
		t.Errorf("the failure is not logged; the log:\n%s", out)
	}
	if err := n.Healthy(); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Healthy after the failure: %v, want storage.ErrFailed (health checks must fail)", err)
	}
	if err := put(n, acked+1); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Put after the failure: %v, want ErrUnavailable", err)
	}
	// A read counts the failed local replica as one that did not answer:
	// a QuorumError, UNAVAILABLE as well.
	var quorum *errs.QuorumError
	if _, err := n.Get(ctx, node.GetRequest{Namespace: "default", Key: []byte("k0")}); !errors.Is(err, errs.ErrUnavailable) && !errors.As(err, &quorum) {
		t.Errorf("Get after the failure: %v, want ErrUnavailable or a QuorumError", err)
	}

	crashed := disk.CrashClone()
	if err := n.Close(); !errors.Is(err, storage.ErrFailed) {
		t.Errorf("Close after the failure: %v, want storage.ErrFailed", err)
	}
	cfg.FS = crashed.FS()
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err = node.Open(cfg)
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer n.Close()
	for i := range acked {
		res, err := n.Get(ctx, node.GetRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if s := res.Object.Siblings(); len(s) != 1 || string(s[0].Value) != fmt.Sprintf("v%d", i) {
			t.Errorf("acknowledged k%d after the crash: %v", i, s)
		}
	}
}

// TestCrashMintsNewIncarnations: a coordinator replicates a write while
// its own sync runs, so a dot of a synced namespace may reach another
// replica before this node's disk. After a crash the node must therefore
// not continue an incarnation that issued dots before it: the next write
// of a key carries a new actor, even a blind one whose context says
// nothing (package actor). Continuing would reissue a dot another replica
// may already hold for another value.
func TestCrashMintsNewIncarnations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	disk := pebbletest.NewDisk()
	cfg := quiet(node.DefaultLocalConfig()) // its namespaces sync every write
	cfg.DataDir, cfg.FS = pebbletest.Dir, disk.FS()
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var prev []dvv.Dot
	// actorOf writes the key blind and returns the actor of the one new dot.
	actorOf := func(n *node.Node, v string) string {
		t.Helper()
		res, err := n.Put(ctx, node.PutRequest{Namespace: "default", Key: []byte("k"), Value: []byte(v)})
		if err != nil {
			t.Fatal(err)
		}
		var fresh []dvv.Dot
		for _, d := range res.Object.Dots() {
			if !slices.Contains(prev, d) {
				fresh = append(fresh, d)
			}
		}
		if len(fresh) != 1 {
			t.Fatalf("a blind write: dots %v after %v, want one new", res.Object.Dots(), prev)
		}
		prev = res.Object.Dots()
		return fresh[0].Actor
	}
	first := actorOf(n, "v1")
	if again := actorOf(n, "v2"); again != first {
		t.Fatalf("without a crash the incarnation goes on: %s then %s", first, again)
	}
	crashed := disk.CrashClone()
	_ = n.Close() // the crash clone was taken before: this clean shutdown never happened for it
	cfg.FS = crashed.FS()
	n, err = node.Open(cfg)
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer n.Close()
	if after := actorOf(n, "v3"); after == first {
		t.Errorf("after a crash the node continued incarnation %s: a dot it issued before may be issued again", first)
	}
}
