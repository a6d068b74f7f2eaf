package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/concord-kv/concord/internal/procs"
	"github.com/concord-kv/concord/internal/testcred"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// TestKill9LosesNoAcknowledgedWrite writes 1,000 keys to a real
// `concord serve` process with a Pebble directory, kills it with SIGKILL
// while more writes are in flight, restarts it, and reads every acknowledged
// key back.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	node := procs.Start(t, dir, "--replicas", "1")
	client := kvv1connect.NewKVServiceClient(testcred.HTTPClient, node.Endpoint)
	ctx := t.Context()

	const keys, writers = 1000, 8
	var (
		mu        sync.Mutex
		acked     = map[string]string{}
		wg        sync.WaitGroup
		killPoint = make(chan struct{}) // closed at keys+200 acknowledgements
	)
	put := func(ctx context.Context, k, v string) error {
		_, err := client.Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(k), Value: []byte(v)})
		if err == nil {
			mu.Lock()
			acked[k] = v
			if len(acked) == keys+200 {
				close(killPoint)
			}
			mu.Unlock()
		}
		return err
	}
	for w := range writers {
		wg.Go(func() {
			for i := w; i < keys; i += writers {
				k := fmt.Sprintf("key-%04d", i)
				if err := put(ctx, k, "value-"+k); err != nil {
					t.Errorf("put %s: %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(acked) != keys {
		t.Fatalf("only %d of %d writes acknowledged before the kill", len(acked), keys)
	}

	// More writes race with the kill: whatever was acknowledged must survive.
	raceCtx, cancel := context.WithCancel(ctx)
	for w := range writers {
		wg.Go(func() {
			for i := 0; raceCtx.Err() == nil && i < 10_000; i++ {
				k := fmt.Sprintf("late-%d-%05d", w, i)
				if put(raceCtx, k, "value-"+k) != nil {
					return
				}
			}
		})
	}
	select {
	case <-killPoint:
	case <-ctx.Done():
		t.Fatal("test ended before the kill")
	}
	node.Kill()
	cancel()
	wg.Wait()

	node.Restart()
	client = kvv1connect.NewKVServiceClient(testcred.HTTPClient, node.Endpoint)
	for k, v := range acked {
		res, err := client.Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte(k)})
		if err != nil {
			t.Fatalf("get %s after restart: %v", k, err)
		}
		if !res.GetFound() || len(res.GetSiblings()) != 1 || string(res.GetSiblings()[0].GetValue()) != v {
			t.Errorf("key %s after restart: found=%v siblings=%v, want %q", k, res.GetFound(), res.GetSiblings(), v)
		}
	}
	t.Logf("%d acknowledged writes (%d before the kill window) all read back after SIGKILL", len(acked), keys)
}
