package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/concord-kv/concord/internal/bench"
)

// redisPeer is one Redis server with its append-only file fsynced before
// every write is acknowledged (appendonly yes, appendfsync always), the
// analogue of concord's synced writes; RDB snapshots are off. (The
// default, appendfsync everysec, may lose the last second of writes and is
// not comparable.)
var redisPeer = peer{
	name:     "redis",
	about:    "one redis-server on loopback, appendonly yes + appendfsync always (fsync before every acknowledged write), no RDB snapshots; go-redis v9, one pool of --clients connections",
	packages: []debPackage{{name: "redis-server", binary: "redis-server"}},
	start: func(ctx context.Context, e *env) (instance, error) {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(e.dir, "redis")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		addr := loopback(ports[0])
		s, err := startServer(e.dir, "redis", nil, "redis-server",
			"--bind", "127.0.0.1", "--port", strconv.Itoa(ports[0]), "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--daemonize", "no", "--protected-mode", "yes")
		if err != nil {
			return nil, err
		}
		if err := waitTCP(ctx, s, addr, 30*time.Second); err != nil {
			stopAll([]*server{s})
			return nil, err
		}
		return &redisInstance{s: s, addr: addr}, nil
	},
}

type redisInstance struct {
	s    *server
	addr string
}

func (r *redisInstance) clients(ctx context.Context, n int) ([]bench.Store, func(), error) {
	c := redis.NewClient(&redis.Options{
		Addr: r.addr, PoolSize: n, ContextTimeoutEnabled: true,
		// Plain RESP2 and no handshake extras that a 7.0 server does not know.
		Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, nil, r.s.failed("ping", err)
	}
	out := make([]bench.Store, n)
	for i := range out {
		out[i] = redisStore{c}
	}
	return out, func() { _ = c.Close() }, nil
}

func (r *redisInstance) pids() []int { return []int{r.s.pid()} }

func (r *redisInstance) versions() map[string]string {
	return map[string]string{"redis-server": versionOf("redis-server", "--version")}
}

func (r *redisInstance) close() error { stopAll([]*server{r.s}); return nil }

// redisStore is one client of a shared pool (a *redis.Client is safe for
// concurrent use).
type redisStore struct{ c *redis.Client }

var _ bench.Store = redisStore{}

func (s redisStore) Read(ctx context.Context, key []byte) error {
	err := s.c.Get(ctx, string(key)).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

func (s redisStore) Update(ctx context.Context, key, value []byte) error {
	return s.c.Set(ctx, string(key), value, 0).Err()
}

func (s redisStore) Insert(ctx context.Context, key, value []byte) error {
	return s.Update(ctx, key, value)
}

func (s redisStore) ReadModifyWrite(ctx context.Context, key, value []byte) error {
	if err := s.Read(ctx, key); err != nil {
		return err
	}
	return s.Update(ctx, key, value)
}
