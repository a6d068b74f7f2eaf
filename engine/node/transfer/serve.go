package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/engine/storage"
)

// ErrStorage marks a failure of the local store while serving a transfer
// (the caller logs it and answers unavailable); other errors are send's
// or the context's.
var ErrStorage = errors.New("transfer: storage")

// Serve sends a partition's objects (of one namespace, if req names one)
// from after req.Cursor (a storage key), in storage-key order, from a
// snapshot of store, with the bytes of the range left after each
// (peer.Local's Transfer).
func Serve(ctx context.Context, store storage.Engine, partitions int, req peer.TransferRequest, send func(peer.Object, uint64) error) error {
	if int(req.Partition) >= partitions {
		return errs.Invalid("partition", "partition %d is out of range", req.Partition)
	}
	lo, hi := keys.PartitionRange(req.Partition)
	if req.Namespace != "" {
		lo, hi = keys.NamespaceRange(req.Partition, req.Namespace)
	}
	if c := req.Cursor; len(c) > 0 && bytes.Compare(c, lo) >= 0 {
		lo = append(append([]byte(nil), c...), 0) // just after the cursor
	}
	snap, err := store.NewSnapshot()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer snap.Close()
	remaining, err := rangeBytes(snap, lo, hi)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	it, err := snap.NewIter(lo, hi)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		_, ns, key, err := keys.ParseData(it.Key())
		if err != nil {
			return err
		}
		obj, err := dvv.Unmarshal(it.Value())
		if err != nil {
			return fmt.Errorf("%w: decode %x: %w", ErrStorage, it.Key(), err)
		}
		remaining -= min(remaining, uint64(len(it.Key())+len(it.Value())))
		if err := send(peer.Object{Namespace: ns, Key: slices.Clone(key), Object: obj}, remaining); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}

func rangeBytes(r storage.Reader, lo, hi []byte) (uint64, error) {
	it, err := r.NewIter(lo, hi)
	if err != nil {
		return 0, err
	}
	var total uint64
	for ok := it.First(); ok; ok = it.Next() {
		total += uint64(len(it.Key()) + len(it.Value()))
	}
	return total, errors.Join(it.Error(), it.Close())
}
