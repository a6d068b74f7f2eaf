package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

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
