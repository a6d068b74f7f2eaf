package bench

import "context"

// Store is what the load generator calls. One Store serves one client
// goroutine: implementations need not be safe for concurrent use (each can
// keep per-client state such as the causal contexts it has seen).
type Store interface {
	Read(ctx context.Context, key []byte) error
	// Update overwrites key with value.
	Update(ctx context.Context, key, value []byte) error
	// Insert writes a new key.
	Insert(ctx context.Context, key, value []byte) error
	// ReadModifyWrite reads key and writes value over what it read.
	ReadModifyWrite(ctx context.Context, key, value []byte) error
}
