package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/concord-kv/concord/engine/storage"
)

// batchOverhead approximates Pebble's per-operation encoding overhead
// (kind byte and varint lengths), to presize batches.
const batchOverhead = 12

// Engine is a [storage.Engine] backed by a Pebble store. It is safe for
// concurrent use.
type Engine struct {
	db  *cpebble.DB
	log *slog.Logger

	// mu is held shared by every engine operation and exclusively by
	// Close, so Close waits for operations in flight and Pebble never sees
	// a call on a closed DB.
	mu     sync.RWMutex
	closed bool

	// fence is set by the first unrecoverable failure; every operation
	// then returns it (see [Engine.Apply]).
	fence *fence

	// syncing counts the synced commits in flight: the WAL waits out its
	// sync interval only when other writers are waiting too (walSyncWait).
	syncing *atomic.Int64
	// wedged is set when a commit panicked with Pebble's commit pipeline
	// locked, so that Close must not call into Pebble.
	wedged atomic.Bool

	// stalls counts write stalls and slow disk operations (stalls.go).
	stalls *stalls

	// open holds the iterators and snapshots that Close must release.
	open registry
}

var _ storage.Engine = (*Engine)(nil)

// Open opens the store in dir, creating it if needed.
func Open(dir string, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	f := &fence{}
	st := &stalls{log: o.Logger}
	syncing := new(atomic.Int64)
	db, err := cpebble.Open(dir, &cpebble.Options{
		FS:                 o.FS,
		Logger:             slogLogger{l: o.Logger, fence: f},
		EventListener:      st.listener(),
		CacheSize:          o.CacheSize,
		MemTableSize:       o.MemTableSize,
		MaxOpenFiles:       o.MaxOpenFiles,
		FormatMajorVersion: cpebble.FormatNewest,
		WALMinSyncInterval: walSyncWait(o.WALSyncInterval, syncing),
	})
	if err != nil {
		return nil, fmt.Errorf("storage/pebble: open %s: %w", dir, err)
	}
	return &Engine{db: db, log: o.Logger, fence: f, stalls: st, syncing: syncing, open: registry{items: make(map[closer]struct{})}}, nil
}

// usable returns ErrClosed after Close, the failure after a failure, or
// nil. The caller holds e.mu.
func (e *Engine) usable() error {
	if e.closed {
		return storage.ErrClosed
	}
	return e.fence.failure()
}

// Get implements [storage.Reader]. The value is copied and Pebble's handle
// released before Get returns.
func (e *Engine) Get(key []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return nil, err
	}
	return get(e.db, key)
}

// NewIter implements [storage.Reader].
func (e *Engine) NewIter(lower, upper []byte) (storage.Iterator, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return nil, err
	}
	return newIter(e.db, &e.open, e.fence, lower, upper)
}

// Failure implements [storage.Failer]: the failure that fenced the
// engine, or nil.
func (e *Engine) Failure() error { return e.fence.failure() }

// Apply implements [storage.Engine]. With opts.Sync the batch is committed
// with pebble.Sync and is durable when Apply returns.
//
// When the WAL cannot be written or synced, Pebble's commit reports the
// error to every writer of the failed group commit and then calls its
// logger's Fatalf (its commit pipeline cannot go on); a later commit may
// instead panic with the pipeline locked. Apply recovers both, so the
// write fails with [storage.ErrFailed] and is never acknowledged, and the
// engine is fenced: Pebble has already made the batch visible in its
// memtable, so from then on every read and write of the engine, its
// snapshots and iterators fails too, rather than serve data that a
// restart may not find.
func (e *Engine) Apply(b *storage.Batch, opts storage.WriteOptions) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return err
	}
	pb := e.db.NewBatchWithSize(b.Size() + batchOverhead*b.Len())
	defer pb.Close()
	for _, op := range b.Ops() {
		var err error
		switch op.Kind {
		case storage.OpSet:
			err = pb.Set(op.Key, op.Value, nil)
		case storage.OpDelete:
			err = pb.Delete(op.Key, nil)
		case storage.OpDeleteRange:
			if bytes.Compare(op.Key, op.End) < 0 {
				err = pb.DeleteRange(op.Key, op.End, nil)
			}
		default:
			err = fmt.Errorf("unknown operation %v", op.Kind)
		}
		if err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
	}
	wo := cpebble.NoSync
	if opts.Sync {
		wo = cpebble.Sync
	}
	return e.commit(pb, wo)
}

// Sync implements [storage.Engine]: it commits a WAL-only record with
// pebble.Sync, which returns once the WAL is synced up to it, and so up to
// every batch committed before.
func (e *Engine) Sync() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return err
	}
	pb := e.db.NewBatch()
	defer pb.Close()
	if err := pb.LogData(nil, nil); err != nil {
		return fmt.Errorf("storage/pebble: sync: %w", err)
	}
	return e.commit(pb, cpebble.Sync)
}

// commit applies pb and turns Pebble's fatal errors into a fenced engine.
func (e *Engine) commit(pb *cpebble.Batch, wo *cpebble.WriteOptions) (err error) {
	if wo.Sync {
		e.syncing.Add(1)
		defer e.syncing.Add(-1)
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(fatal); ok {
			err = f.err // Fatalf has fenced the engine and logged
			return
		}
		// Pebble panics like this when its WAL writer failed earlier (the
		// error of a write that was not synced, seen by a later one),
		// leaving its commit pipeline locked.
		e.wedged.Store(true)
		e.fence.fail(fmt.Errorf("storage/pebble: commit panicked: %v", r))
		err = e.fence.failure()
		e.log.Error("storage failed: Pebble's commit panicked; the engine serves nothing more and cannot be closed cleanly",
			"component", "pebble", "err", err)
	}()
	if err := e.db.Apply(pb, wo); err != nil {
		return fmt.Errorf("storage/pebble: apply: %w", err)
	}
	// A Fatalf that returned (none does; see slogLogger) would leave the
	// fence set: a failed write is never acknowledged.
	return e.fence.failure()
}

// NewSnapshot implements [storage.Engine].
func (e *Engine) NewSnapshot() (storage.Snapshot, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return nil, err
	}
	s := &snapshot{snap: e.db.NewSnapshot(), reg: &e.open, fence: e.fence}
	if !e.open.add(s) { // unreachable: Close waits for e.mu
		_ = s.snap.Close()
		return nil, storage.ErrClosed
	}
	return s, nil
}

// Flush flushes the memtable to an sstable. Tests use it to exercise reads
// from sstables; it is never needed for durability.
func (e *Engine) Flush() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return err
	}
	return e.db.Flush()
}

// Close implements [storage.Engine]. It closes the iterators and snapshots
// still open, then the Pebble store. After a failure it returns the
// failure (wrapping [storage.ErrFailed]); if a commit panicked with
// Pebble's commit pipeline locked, the Pebble store cannot be closed and
// is left to the process's exit.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	e.closed = true
	// Iterators before snapshots: an iterator may read from a snapshot.
	its, snaps := e.open.closeAll()
	for _, c := range its {
		c.forceClose()
	}
	for _, c := range snaps {
		c.forceClose()
	}
	failure := e.fence.failure()
	if e.wedged.Load() {
		return failure
	}
	if err := e.db.Close(); err != nil {
		return errors.Join(failure, fmt.Errorf("storage/pebble: close: %w", err))
	}
	return failure
}

// get reads key from a DB or a snapshot and copies the value, so that
// Pebble's handle is released at once.
func get(r cpebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, cpebble.ErrNotFound) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage/pebble: get: %w", err)
	}
	out := append([]byte{}, v...)
	if err := closer.Close(); err != nil {
		return nil, fmt.Errorf("storage/pebble: get: %w", err)
	}
	return out, nil
}

// snapshot is a [storage.Snapshot] over a Pebble snapshot.
type snapshot struct {
	reg   *registry
	fence *fence

	// mu is held shared by reads and exclusively by Close and by the
	// engine's Close.
	mu   sync.RWMutex
	snap *cpebble.Snapshot // nil once closed
}

func (s *snapshot) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.snap == nil {
		return nil, storage.ErrClosed
	}
	if err := s.fence.failure(); err != nil {
		return nil, err
	}
	return get(s.snap, key)
}

func (s *snapshot) NewIter(lower, upper []byte) (storage.Iterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.snap == nil {
		return nil, storage.ErrClosed
	}
	if err := s.fence.failure(); err != nil {
		return nil, err
	}
	return newIter(s.snap, s.reg, s.fence, lower, upper)
}

func (s *snapshot) Close() error {
	if !s.release() {
		return nil
	}
	s.reg.remove(s)
	return nil
}

func (s *snapshot) forceClose() { s.release() }

// release closes the Pebble snapshot once and reports whether it did.
func (s *snapshot) release() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap == nil {
		return false
	}
	// Pebble's Snapshot.Close only returns an error for a double close,
	// which the nil check prevents.
	_ = s.snap.Close()
	s.snap = nil
	return true
}

// closer is an iterator or snapshot that the engine's Close releases.
type closer interface {
	forceClose()
}

// registry tracks the open iterators and snapshots of an engine.
type registry struct {
	mu     sync.Mutex
	closed bool
	items  map[closer]struct{}
}

// add registers c and reports false if the engine is closing.
func (r *registry) add(c closer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.items[c] = struct{}{}
	return true
}

func (r *registry) remove(c closer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.items, c)
}

// closeAll refuses further registrations and returns the open iterators and
// snapshots.
func (r *registry) closeAll() (iters, snaps []closer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for c := range r.items {
		if _, ok := c.(*snapshot); ok {
			snaps = append(snaps, c)
		} else {
			iters = append(iters, c)
		}
	}
	r.items = nil
	return iters, snaps
}
