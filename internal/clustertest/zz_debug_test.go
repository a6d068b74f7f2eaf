package clustertest_test

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/internal/clustertest"
)

func TestZZDebugHandoff(t *testing.T) {
	f, _ := os.Create("/tmp/zz.log")
	defer f.Close()
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := clustertest.Start(t, clustertest.Options{Logger: log})
	ctx := t.Context()
	for i := range 600 {
		if _, err := c.Nodes[i%3].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: fmt.Appendf(nil, "k%05d", i), Value: make([]byte, 1024)}); err != nil {
			t.Fatal(err)
		}
	}
	joiner := c.AddNode()
	admin := c.Nodes[0].Node()
	if _, err := admin.StageJoin(joiner.ID()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Commit(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, progress, complete := admin.Handoffs()
		done := 0
		for _, p := range progress {
			if p.Done {
				done++
			}
		}
		t.Logf("%d: %d/%d done, complete %v", i, done, len(progress), complete)
		time.Sleep(500 * time.Millisecond)
	}
}
