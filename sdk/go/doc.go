// Package concord is the Go client of concord, a Dynamo-style key-value
// store. A [Client] talks to any node over Connect (or gRPC); the node
// coordinates the request with the key's replicas.
//
// Every read returns the key's siblings (concurrent versions) and an opaque
// [Context]. Pass the context back on the next write so that it replaces
// what the read saw; [Client.Update] does that read-merge-write loop for
// you.
//
//	c := concord.New("http://127.0.0.1:7700")
//	ctx := context.Background()
//	_, err := c.Put(ctx, []byte("greeting"), []byte("hello"))
//	obj, err := c.Get(ctx, []byte("greeting"))
//
// A Client is safe for concurrent use.
package concord
