// Package memory is an in-memory [storage.Engine] for tests and the
// in-process cluster harness.
//
// The engine keeps its keys in a copy-on-write B-tree
// ([github.com/tidwall/btree]). Get, Set and Delete cost O(log n). A snapshot
// or an iterator takes an O(1) copy of the tree; the first writes after a copy
// duplicate the O(log n) nodes on their path, never the whole tree, so
// snapshots and iterators are consistent without blocking writers.
//
// Nothing is persisted: [storage.WriteOptions.Sync] is accepted and ignored.
//
// An [Engine] and its snapshots are safe for concurrent use; an iterator is
// used by one goroutine at a time.
package memory
