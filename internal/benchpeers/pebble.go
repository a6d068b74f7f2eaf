package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/cockroachdb/pebble/v2"

	"github.com/concord-kv/concord/internal/bench"
)

// pebblePeer is the storage engine under concord, in this process with its
// default options: every write is synced (pebble.Sync), as a concord
// namespace with durability sync syncs every acknowledged write. It is the
// floor: no network, no replication, no RPC.
var pebblePeer = peer{
	name:  "pebble",
	about: "Pebble in this process, default options, synced sets (pebble.Sync) and gets; CPU is this whole process, load generator included",
	start: func(_ context.Context, e *env) (instance, error) {
		db, err := pebble.Open(filepath.Join(e.dir, "pebble"), &pebble.Options{Logger: pebbleLogger{e.log}})
		if err != nil {
			return nil, err
		}
		return &pebbleInstance{db: db}, nil
	},
}

type pebbleInstance struct{ db *pebble.DB }

// pebbleLogger passes Pebble's errors to the run's log and drops its
// chatter ("Found 0 WALs").
type pebbleLogger struct{ log *slog.Logger }

func (pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}

func (p *pebbleInstance) clients(_ context.Context, n int) ([]bench.Store, func(), error) {
	out := make([]bench.Store, n)
	for i := range out {
		out[i] = pebbleStore{p.db}
	}
	return out, func() {}, nil
}

func (p *pebbleInstance) pids() []int { return nil }

func (p *pebbleInstance) versions() map[string]string {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/cockroachdb/pebble/v2" {
				v = d.Version
			}
		}
	}
	return map[string]string{"pebble": v}
}

func (p *pebbleInstance) close() error { return p.db.Close() }

// pebbleStore is one client of the shared database (a *pebble.DB is safe
// for concurrent use).
type pebbleStore struct{ db *pebble.DB }

var _ bench.Store = pebbleStore{}

func (s pebbleStore) Read(_ context.Context, key []byte) error {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil // a miss is an answer, as it is for the other peers
	}
	if err != nil {
		return err
	}
	return closer.Close()
}

func (s pebbleStore) Update(_ context.Context, key, value []byte) error {
	return s.db.Set(key, value, pebble.Sync)
}

func (s pebbleStore) Insert(ctx context.Context, key, value []byte) error {
	return s.Update(ctx, key, value)
}

func (s pebbleStore) ReadModifyWrite(ctx context.Context, key, value []byte) error {
	if err := s.Read(ctx, key); err != nil {
		return err
	}
	return s.Update(ctx, key, value)
}
