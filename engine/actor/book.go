package actor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/storage"
)

// leaseBlock is how many incarnation numbers one synced write reserves.
const leaseBlock = 1024

var (
	leaseKey  = keys.Meta("actor", "lease")  // u64: every seq below it may have been used
	floorsKey = keys.Meta("actor", "floors") // u64 per partition
	cleanKey  = keys.Meta("actor", "clean")  // present after a clean shutdown
	// dirtyKey is present while dots may have been issued in unsynced
	// writes since the last clean shutdown: only then can a crash make the
	// node forget dots that other replicas hold.
	dirtyKey = keys.Meta("actor", "dirty")
)

// Book hands out a node's incarnations ([Choose], [Name]) and keeps what
// makes them safe in the node's store: the sequence lease, the partitions'
// floors and the clean-shutdown marker. It is safe for concurrent use.
type Book struct {
	id  string
	eng storage.Engine

	mu     sync.Mutex
	next   uint64   // the next seq to mint
	lease  uint64   // seqs below lease are reserved in the store
	floors []uint64 // per partition
	dirty  bool     // dirtyKey is stored
}

// Open loads the book of node id from eng, whose ring has q partitions. A
// store that was not shut down cleanly (see [Book.Close]) after dots were
// issued in unsynced writes may have lost some of them, so every floor is
// raised: no incarnation from before the crash is continued.
func Open(eng storage.Engine, id string, q int) (*Book, error) {
	b := &Book{id: id, eng: eng, floors: make([]uint64, q)}
	lease, fresh, err := readU64(eng, leaseKey)
	if err != nil {
		return nil, err
	}
	raw, err := eng.Get(floorsKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("actor: read floors: %w", err)
	case len(raw) != 8*q:
		return nil, fmt.Errorf("actor: floors hold %d bytes, want %d", len(raw), 8*q)
	default:
		for p := range b.floors {
			b.floors[p] = binary.BigEndian.Uint64(raw[8*p:])
		}
	}
	_, unclean, err := readU64(eng, cleanKey)
	if err != nil {
		return nil, err
	}
	_, clean, err := readU64(eng, dirtyKey) // no unsynced dots: as good as clean
	if err != nil {
		return nil, err
	}
	b.next, b.lease = lease, lease
	var batch storage.Batch
	if !fresh && unclean && !clean {
		for p := range b.floors {
			b.floors[p] = b.next
		}
		batch.Set(floorsKey, b.encodeFloors())
	}
	batch.Delete(cleanKey)
	batch.Delete(dirtyKey)
	if err := eng.Apply(&batch, storage.WriteOptions{Sync: true}); err != nil {
		return nil, fmt.Errorf("actor: open: %w", err)
	}
	return b, nil
}

// Pick returns the actor under which this node issues the next dot of a
// key of partition p: the incarnation [Choose] continues, or a new one.
// Call it under the key's lock, with the key's local copy; synced tells
// whether the dot will be written with a synced write.
func (b *Book) Pick(p uint16, local dvv.Object, seen dvv.Clock, synced bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !synced && !b.dirty {
		var batch storage.Batch
		batch.Set(dirtyKey, binary.BigEndian.AppendUint64(nil, 1))
		if err := b.eng.Apply(&batch, storage.WriteOptions{Sync: true}); err != nil {
			return "", fmt.Errorf("actor: mark unsynced dots: %w", err)
		}
		b.dirty = true
	}
	if a, ok := Choose(b.id, b.floors[p], local, seen); ok {
		return a, nil
	}
	if b.next == b.lease {
		var batch storage.Batch
		batch.Set(leaseKey, binary.BigEndian.AppendUint64(nil, b.lease+leaseBlock))
		if err := b.eng.Apply(&batch, storage.WriteOptions{Sync: true}); err != nil {
			return "", fmt.Errorf("actor: extend lease: %w", err)
		}
		b.lease += leaseBlock
	}
	seq := b.next
	b.next++
	return Name(b.id, seq), nil
}

// DeleteForgetting applies batch, a deletion of data of partitions, with
// their floors raised in the same synced batch, so the store never holds
// one without the other. No incarnation is minted meanwhile, so none slips
// under the new floors. On failure the floors are left as they were.
func (b *Book) DeleteForgetting(batch *storage.Batch, partitions []uint16) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := append([]uint64(nil), b.floors...)
	for _, p := range partitions {
		b.floors[p] = b.next
	}
	batch.Set(floorsKey, b.encodeFloors())
	if err := b.eng.Apply(batch, storage.WriteOptions{Sync: true}); err != nil {
		b.floors = old
		return err
	}
	return nil
}

// Floor returns partition p's floor (tests, diagnostics).
func (b *Book) Floor(p uint16) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.floors[p]
}

// Close marks the store as shut down cleanly. Call it after the last write
// and before the engine is closed: the marker is a synced write, so every
// write before it is durable too.
func (b *Book) Close() error {
	var batch storage.Batch
	batch.Set(cleanKey, binary.BigEndian.AppendUint64(nil, 1))
	batch.Delete(dirtyKey)
	if err := b.eng.Apply(&batch, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("actor: mark clean shutdown: %w", err)
	}
	return nil
}

func (b *Book) encodeFloors() []byte {
	out := make([]byte, 0, 8*len(b.floors))
	for _, f := range b.floors {
		out = binary.BigEndian.AppendUint64(out, f)
	}
	return out
}

// readU64 reads a big-endian u64; missing reports that the key is absent.
func readU64(eng storage.Engine, k []byte) (v uint64, missing bool, err error) {
	raw, err := eng.Get(k)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("actor: read %q: %w", k, err)
	}
	if len(raw) != 8 {
		return 0, false, fmt.Errorf("actor: %q holds %d bytes, want 8", k, len(raw))
	}
	return binary.BigEndian.Uint64(raw), false, nil
}
