package clustertest_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/storage/pebble/pebbletest"
	"github.com/concord-kv/concord/engine/storage/storagetest"
	"github.com/concord-kv/concord/internal/clustertest"
)

// TestPutWhenTheCoordinatorsFsyncFails: with DW=1 a synced put is sent to
// the other replicas unsynced, the coordinator's own sync being the one
// durable acknowledgement it counts on. When that sync fails, the
// coordinator asks a replica that acknowledged unsynced to sync: the put
// still succeeds, durably elsewhere, and reads find it. Without the
// request to sync, the put would fail with the storage error while two
// replicas hold the value.
func TestPutWhenTheCoordinatorsFsyncFails(t *testing.T) {
	t.Parallel()
	disk := pebbletest.NewDisk()
	c := clustertest.Start(t, clustertest.Options{Disk: func(i int) vfs.FS {
		if i == 0 {
			return disk.FS()
		}
		return nil
	}})
	ctx := t.Context()
	coordinator := c.Nodes[0].Node()
	put := func(key string) error {
		_, err := coordinator.Put(ctx, node.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte(key)})
		return err
	}
	if err := put("before"); err != nil {
		t.Fatalf("put before the fault: %v", err)
	}
	// The first failed fsync fences the coordinator's store (storage
	// package): this put is the one its failure is reported to.
	disk.Inject(storagetest.FailSync)
	const key = "after"
	if err := put(key); err != nil {
		t.Fatalf("put with the coordinator's fsync failing: %v (another replica should have been asked to sync)", err)
	}
	if disk.Injected() == 0 {
		t.Fatal("no fsync failed: the fault was never hit")
	}
	for _, n := range c.Nodes[1:] {
		res, err := n.Node().Get(ctx, node.GetRequest{Namespace: "default", Key: []byte(key)})
		if err != nil || res.Object.Len() != 1 || string(res.Object.Siblings()[0].Value) != key {
			t.Fatalf("get %s from node %d: %v, %v", key, n.Index, res.Object, err)
		}
	}
}
