package server_test

import (
	"fmt"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestNamespaceRateLimits: a namespace sent three times its writes per
// second back to back has writes refused with RESOURCE_EXHAUSTED and a
// LimitExceeded detail that says when to retry, while another namespace's
// writes and its own reads (limited apart) keep succeeding; updating the
// limit to 0 lifts it. No assertion depends on timing: a single-node ring
// allows the whole rate, the burst is one second of it, and three bursts
// sent at once cannot all fit whatever the scheduling.
func TestNamespaceRateLimits(t *testing.T) {
	t.Parallel()
	const writesPerSecond, readsPerSecond = 5, 1000
	forEachProtocol(t, func(t *testing.T, c *client) {
		ctx := t.Context()
		limited := c.createNamespace(t, &adminv1.Namespace{Name: "limited", Limits: &adminv1.Limits{WritesPerSecond: writesPerSecond, ReadsPerSecond: readsPerSecond}})
		if l := limited.GetLimits(); l.GetWritesPerSecond() != writesPerSecond || l.GetReadsPerSecond() != readsPerSecond {
			t.Fatalf("created limits = %v", l)
		}
		c.createNamespace(t, &adminv1.Namespace{Name: "free"})
		put := func(namespace string) error {
			_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: namespace, Key: []byte("k"), Value: []byte("v")})
			return err
		}

		refused := 0
		for range 3 * writesPerSecond {
			err := put("limited")
			if err == nil {
				continue
			}
			refused++
			ce := wantError(t, err, connect.CodeResourceExhausted, "writes_per_second", "retry after")
			d := detail[*kvv1.LimitExceeded](t, ce)
			if d.GetLimit() != "writes_per_second" || d.GetMax() != writesPerSecond || d.GetRetryAfterMs() < 1 || d.GetRetryAfterMs() > 1000/writesPerSecond {
				t.Errorf("LimitExceeded = %v, want writes_per_second, max %d, a retry delay of 1 to %d ms", d, writesPerSecond, 1000/writesPerSecond)
			}
		}
		if refused == 0 {
			t.Fatalf("none of %d back-to-back writes at %d/s was refused", 3*writesPerSecond, writesPerSecond)
		}
		for i := range 3 * writesPerSecond {
			if err := put("free"); err != nil {
				t.Errorf("write %d of another namespace: %v", i, err)
			}
			if _, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "limited", Key: []byte("k")}); err != nil {
				t.Errorf("read %d of the write-limited namespace: %v", i, err)
			}
		}

		// Reads have their own limit.
		_, err := c.admin.UpdateNamespace(ctx, &adminv1.UpdateNamespaceRequest{
			Name: "limited", Settings: &adminv1.NamespaceSettings{Limits: &adminv1.Limits{ReadsPerSecond: 2}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"limits.reads_per_second"}},
		})
		if err != nil {
			t.Fatalf("UpdateNamespace(reads_per_second=2): %v", err)
		}
		readsRefused := 0
		for range 6 {
			_, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "limited", Key: []byte("k")})
			if err == nil {
				continue
			}
			readsRefused++
			ce := wantError(t, err, connect.CodeResourceExhausted, "reads_per_second")
			if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != "reads_per_second" || d.GetMax() != 2 || d.GetRetryAfterMs() == 0 {
				t.Errorf("LimitExceeded = %v, want reads_per_second, max 2, a retry delay", d)
			}
		}
		if readsRefused == 0 {
			t.Error("none of 6 back-to-back reads at 2/s was refused")
		}

		// Lifting the limits: everything goes through.
		res, err := c.admin.UpdateNamespace(ctx, &adminv1.UpdateNamespaceRequest{
			Name: "limited", Settings: &adminv1.NamespaceSettings{Limits: &adminv1.Limits{}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"limits.writes_per_second", "limits.reads_per_second"}},
		})
		if err != nil {
			t.Fatalf("UpdateNamespace(no rate limits): %v", err)
		}
		if l := res.GetNamespace().GetLimits(); l.GetWritesPerSecond() != 0 || l.GetReadsPerSecond() != 0 || l.GetMaxSiblings() == 0 {
			t.Errorf("limits after lifting = %v", l)
		}
		for i := range 3 * writesPerSecond {
			if err := put("limited"); err != nil {
				t.Fatalf("write %d after lifting the limit: %v", i, err)
			}
			if _, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: "limited", Key: []byte("k")}); err != nil {
				t.Fatalf("read %d after lifting the limit: %v", i, err)
			}
		}
	})
}

// TestWriteBytesPerSecond: a namespace's write_bytes_per_second refuses
// the writes that would store more than its share of bytes per second
// with RESOURCE_EXHAUSTED, a LimitExceeded detail and a retry delay, while
// another namespace keeps writing.
func TestWriteBytesPerSecond(t *testing.T) {
	t.Parallel()
	forProtocols(t, protocols[:1], func(t *testing.T, c *client) {
		ctx := t.Context()
		c.createNamespace(t, &adminv1.Namespace{Name: "bytes", N: 1, R: 1, W: 1, Limits: &adminv1.Limits{WriteBytesPerSecond: 4000}})
		refused := 0
		for i := range 10 {
			_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: "bytes", Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, 1000)})
			if err == nil {
				continue
			}
			refused++
			ce := wantError(t, err, connect.CodeResourceExhausted, "write_bytes_per_second")
			if d := detail[*kvv1.LimitExceeded](t, ce); d.GetLimit() != "write_bytes_per_second" || d.GetMax() != 4000 || d.GetRetryAfterMs() == 0 {
				t.Errorf("LimitExceeded = %v, want write_bytes_per_second, max 4000, a retry delay", d)
			}
		}
		if refused == 0 || refused == 10 {
			t.Errorf("10 writes of 1 KB at 4000 B/s: %d refused; want some, not all", refused)
		}
		if _, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: ns, Key: []byte("other"), Value: make([]byte, 1000)}); err != nil {
			t.Errorf("another namespace's write: %v", err)
		}
	})
}
