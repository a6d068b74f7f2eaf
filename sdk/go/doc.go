// Package concord is the Go client of concord, a Dynamo-style key-value
// store. A [Client] talks to any node over Connect (or gRPC); the node
// coordinates the request with the key's replicas.
//
// Every read returns the key's siblings (concurrent versions) and an opaque
// [Context]. Pass the context back on the next write so that it replaces
// what the read saw; [Client.Update] does that read-merge-write loop for
// you, retrying when another write got there first.
//
//	c := concord.New("http://127.0.0.1:7700")
//	ctx := context.Background()
//	_, err := c.Put(ctx, []byte("greeting"), []byte("hello"))
//	obj, err := c.Get(ctx, []byte("greeting"))
//
// # Routing
//
// By default a call goes to the endpoint given to [New], and a node that
// holds no replica of the key forwards a write to one that does, or reads
// the replicas remotely: one more network hop. With [WithRouting] the client
// fetches each namespace's topology (which nodes hold which partitions),
// computes each key's partition itself and sends the call straight to the
// first node of the key's preference list, the Dynamo paper's
// client-driven coordination:
//
//	c := concord.New("http://10.0.0.1:7700",
//		concord.WithEndpoints("http://10.0.0.2:7700"), // asked too when the first fails
//		concord.WithRouting())
//
// A routing client refreshes a topology when it is older than
// [WithTopologyMaxAge], when a node fails a call and when a write comes back
// coordinated by another node than the one it went to. A call that cannot
// reach a node goes to the next node of the list and then to the
// configured endpoints; a write goes on only when the failure proves the
// node applied nothing (see [WithRouting]). Reads of a key this client
// wrote in the last few seconds go first to the node that coordinated the
// write.
//
// # Errors
//
// Errors match sentinels such as [ErrNamespaceNotFound] and
// [ErrAlreadyExists] with errors.Is, and carry details as [*QuorumError],
// [*ConflictError] and [*LimitError] with errors.As; the Connect error stays
// reachable with errors.As too.
//
// A Client is safe for concurrent use; make one per process (or per
// cluster) and share it, as it keeps its connections to the nodes alive.
package concord
