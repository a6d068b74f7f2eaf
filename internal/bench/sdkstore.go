package bench

import (
	"context"

	concord "github.com/concord-kv/concord/sdk/go"
)

// NewSDKStore returns a Store that runs the operations with the Go SDK
// client c. It remembers the context of the last read or write of each key,
// so an update replaces what this client saw instead of piling up siblings
// (a blind put adds one). Like every Store it serves one client goroutine.
func NewSDKStore(c *concord.Client) Store {
	return &sdkStore{c: c, contexts: map[string]concord.Context{}}
}

type sdkStore struct {
	c        *concord.Client
	contexts map[string]concord.Context
}

func (s *sdkStore) Read(ctx context.Context, key []byte) error {
	obj, err := s.c.Get(ctx, key)
	if err == nil {
		s.contexts[string(key)] = obj.Context
	}
	return err
}

func (s *sdkStore) Update(ctx context.Context, key, value []byte) error {
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
	if err == nil {
		s.contexts[string(key)] = c
	}
	return err
}
