package bench

import (
	"context"
	"fmt"

	concord "github.com/concord-kv/concord/sdk/go"
)

// How NewSDKStore writes an update, YCSB's replacement of a record's value.
const (
	// UpdateOverwrite puts with the SDK's Overwrite: the value replaces
	// every version the coordinating node holds, as an update replaces the
	// record in YCSB, etcd or Redis. Versions written concurrently through
	// other nodes still meet as siblings.
	UpdateOverwrite = "overwrite"
	// UpdateContext puts with the context of this client's last read or
	// write of the key: the value replaces only what this client saw, so a
	// key written by several clients that do not read keeps one sibling
	// per writer until someone reads and merges (a client that never reads
	// before writing; the divergence measure of docs/benchmarks.md).
	UpdateContext = "context"
)

// CheckUpdates validates an update mode's name.
func CheckUpdates(mode string) error {
	switch mode {
	case UpdateOverwrite, UpdateContext:
		return nil
	}
	return fmt.Errorf("updates %q: use %q (replace what the coordinator holds) or %q (put with the context this client last saw)", mode, UpdateOverwrite, UpdateContext)
}

// NewSDKStore returns a Store that runs the operations with the Go SDK
// client c, writing updates with the context it remembers of each key when
// mode is UpdateContext, and with Overwrite otherwise (a load, which only
// inserts, passes ""). Like every Store it serves one client goroutine.
func NewSDKStore(c *concord.Client, mode string) Store {
	return &sdkStore{c: c, overwrite: mode != UpdateContext, contexts: map[string]concord.Context{}}
}

type sdkStore struct {
	c         *concord.Client
	overwrite bool
	contexts  map[string]concord.Context
}

func (s *sdkStore) Read(ctx context.Context, key []byte) error {
	obj, err := s.c.Get(ctx, key)
	if err == nil && !s.overwrite {
		s.contexts[string(key)] = obj.Context
	}
	return err
}

func (s *sdkStore) Update(ctx context.Context, key, value []byte) error {
	if s.overwrite {
		_, err := s.c.Put(ctx, key, value, concord.Overwrite())
		return err
	}
	c, err := s.c.Put(ctx, key, value, concord.After(s.contexts[string(key)]))
	if err == nil {
		s.contexts[string(key)] = c
	}
	return err
}

func (s *sdkStore) Insert(ctx context.Context, key, value []byte) error {
	_, err := s.c.Put(ctx, key, value)
	return err
}

func (s *sdkStore) ReadModifyWrite(ctx context.Context, key, value []byte) error {
	c, err := s.c.Update(ctx, key, func([][]byte) ([]byte, error) { return value, nil })
	if err == nil && !s.overwrite {
		s.contexts[string(key)] = c
	}
	return err
}
