package clustertest_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/concord-kv/concord/internal/clustertest"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// TestListKeysCoversPartitionsOfOtherNodes: with five nodes and N=3 no node
// holds every partition; listing through any node still returns every live
// key exactly once, and paging resumes across remote partitions.
func TestListKeysCoversPartitionsOfOtherNodes(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Nodes: 5})
	ctx := t.Context()
	var want []string
	for i := range 300 {
		key := fmt.Sprintf("k%03d", i)
		if _, err := c.Nodes[i%5].KV().Put(ctx, &kvv1.PutRequest{Namespace: "default", Key: []byte(key), Value: []byte("v"), W: 3}); err != nil {
			t.Fatal(err)
		}
		want = append(want, key)
	}
	got, err := c.Nodes[0].KV().Get(ctx, &kvv1.GetRequest{Namespace: "default", Key: []byte("k000")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[0].KV().Delete(ctx, &kvv1.DeleteRequest{Namespace: "default", Key: []byte("k000"), Context: got.GetContext(), W: 3}); err != nil {
		t.Fatal(err)
	}
	want = want[1:]
	for _, n := range c.Nodes {
		var keys []string
		var token []byte
		for pages := 0; ; pages++ {
			stream, err := n.KV().ListKeys(ctx, &kvv1.ListKeysRequest{Namespace: "default", PageSize: 50, Limit: 70, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			token = nil
			for stream.Receive() {
				for _, k := range stream.Msg().GetKeys() {
					keys = append(keys, string(k))
				}
				token = stream.Msg().GetNextPageToken()
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("list through node %d: %v", n.Index, err)
			}
			if len(token) == 0 {
				break
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("listing through node %d: %d keys, want %d (first %v)", n.Index, len(keys), len(want), keys[:min(5, len(keys))])
		}
	}
}
