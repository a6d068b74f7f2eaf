package aae

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/engine/aae/tictac"
	"github.com/concord-kv/concord/engine/dvv"
)

// KeyObject is one key of a partition with its object.
type KeyObject struct {
	// Key is the per-partition key: namespace ‖ 0x00 ‖ user key.
	Key []byte
	// Object is the encoded object ([dvv.Object.MarshalBinary]).
	Object []byte
}

// Replica is one replica of a partition, local or remote, as [Exchange] sees
// it. Implementations must be safe for concurrent use.
type Replica interface {
	// Segments returns the segment hashes of the replica's tree of the
	// partition ([tictac.Tree.Segments]).
	Segments(ctx context.Context, partition int) ([]uint64, error)
	// Objects returns every key of the partition that falls in one of the
	// segments ([tictac.SegmentOf]), with its stored object, each key once,
	// preferably in ascending key order (as a storage scan yields them;
	// Exchange sorts them otherwise). segments is ascending. Exchange owns
	// the returned slice and may reorder it.
	Objects(ctx context.Context, partition int, segments []int) ([]KeyObject, error)
	// Merge merges each object into the replica's object of its key with
	// [dvv.Sync], persists the result and updates the tree. It must merge, not
	// overwrite: a write may have reached the key since Objects read it.
	Merge(ctx context.Context, partition int, objs []KeyObject) error
}

// Limiter rate-limits repairs: Wait blocks until n more keys may be sent to a
// replica, or fails (with ctx's error when ctx ends first). n is at most
// [ExchangeOptions.BatchSize].
type Limiter interface {
	Wait(ctx context.Context, n int) error
}

// LimiterFunc adapts a function to [Limiter]; for instance
// LimiterFunc(rl.WaitN) for a golang.org/x/time/rate.Limiter whose burst is
// at least the batch size.
type LimiterFunc func(ctx context.Context, n int) error

// Wait calls f(ctx, n).
func (f LimiterFunc) Wait(ctx context.Context, n int) error { return f(ctx, n) }

const (
	// DefaultMaxSegmentsPerRound is the bound of one [Exchange] when
	// [ExchangeOptions.MaxSegmentsPerRound] is 0.
	DefaultMaxSegmentsPerRound = 64
	// DefaultBatchSize is the number of objects per [Replica.Merge] call when
	// [ExchangeOptions.BatchSize] is 0.
	DefaultBatchSize = 128
)

// ExchangeOptions bound the work of one [Exchange]. The zero value is valid.
type ExchangeOptions struct {
	// MaxSegmentsPerRound is the most differing segments one Exchange
	// repairs; the others wait for the next round. 0 means
	// DefaultMaxSegmentsPerRound (64); a negative value means no bound.
	MaxSegmentsPerRound int
	// StartSegment is where the choice of differing segments starts (it
	// wraps around), so that segments that cannot be repaired do not starve
	// the others. Pass the previous round's [Stats.NextSegment]. Default 0.
	StartSegment int
	// BatchSize is the most objects sent in one Merge call, and asked of the
	// Limiter at once. 0 means DefaultBatchSize (128).
	BatchSize int
	// Limiter, if not nil, is waited on before each Merge call with the
	// number of objects in it. Default nil: no limit.
	Limiter Limiter
}

// Stats describe one [Exchange].
type Stats struct {
	// SegmentsCompared is the number of segments of each tree.
	SegmentsCompared int
	// SegmentsDiffering is the number of segments whose hashes differed.
	SegmentsDiffering int
	// SegmentsRepaired is the number of differing segments this round
	// compared key by key (at most MaxSegmentsPerRound).
	SegmentsRepaired int
	// NextSegment is the StartSegment for the next round.
	NextSegment int
	// Keys is the number of distinct keys found in the repaired segments.
	Keys int
	// KeysRepairedA and KeysRepairedB count the merged objects sent to a and
	// to b (a key may be sent to both).
	KeysRepairedA, KeysRepairedB int
	// KeysFailed counts the keys skipped because an object did not decode.
	KeysFailed int
}

// Exchange compares two replicas of a partition and repairs the differing
// segments in both directions: for every key in a differing segment it merges
// the two sides' objects with [dvv.Sync] (a key missing on one side is the
// zero Object) and sends the merged object to each side that does not
// already hold exactly it. It repairs at most opts.MaxSegmentsPerRound
// segments; Stats says how many differed.
//
// A key whose object does not decode on one side or the other is not repaired; the
// other keys are, and Exchange then returns an error wrapping [ErrBadObject]
// and [dvv.ErrBadObject] that names those keys. Any other error (from a
// replica, the limiter or ctx) stops the exchange; the stats say what was
// done before it. Exchange is safe to run concurrently with writes to either
// replica, since [Replica.Merge] merges rather than overwrites.
func Exchange(ctx context.Context, partition int, a, b Replica, opts ExchangeOptions) (Stats, error) {
	var st Stats
	sa, err := a.Segments(ctx, partition)
	if err != nil {
		return st, fmt.Errorf("aae: partition %d: segments of a: %w", partition, err)
	}
	sb, err := b.Segments(ctx, partition)
	if err != nil {
		return st, fmt.Errorf("aae: partition %d: segments of b: %w", partition, err)
	}
	if len(sa) != len(sb) {
		return st, fmt.Errorf("%w: partition %d: %d and %d", ErrSegmentCount, partition, len(sa), len(sb))
	}
	st.SegmentsCompared = len(sa)
	diff := tictac.Diff(sa, sb)
	st.SegmentsDiffering = len(diff)
	if len(diff) == 0 {
		return st, nil
	}
	segs, next := pickSegments(diff, len(sa), opts.StartSegment, opts.MaxSegmentsPerRound)
	st.SegmentsRepaired, st.NextSegment = len(segs), next

	oa, err := a.Objects(ctx, partition, segs)
	if err != nil {
		return st, fmt.Errorf("aae: partition %d: objects of a: %w", partition, err)
	}
	ob, err := b.Objects(ctx, partition, segs)
	if err != nil {
		return st, fmt.Errorf("aae: partition %d: objects of b: %w", partition, err)
	}
	toA, toB, keys, bad, err := reconcile(oa, ob)
	if err != nil {
		return st, fmt.Errorf("aae: partition %d: %w", partition, err)
	}
	st.Keys, st.KeysFailed = keys, len(bad)

	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	if err := send(ctx, a, partition, toA, batch, opts.Limiter, &st.KeysRepairedA); err != nil {
		return st, fmt.Errorf("aae: partition %d: repair a: %w", partition, err)
	}
	if err := send(ctx, b, partition, toB, batch, opts.Limiter, &st.KeysRepairedB); err != nil {
		return st, fmt.Errorf("aae: partition %d: repair b: %w", partition, err)
	}
	if len(bad) > 0 {
		return st, fmt.Errorf("aae: partition %d: %w", partition, errors.Join(bad...))
	}
	return st, nil
}

// pickSegments chooses up to limit of the differing segments (ascending),
// starting at the first one at or after start and wrapping around. It
// returns them ascending, and where the next round should start.
func pickSegments(diff []int, n, start, limit int) (segs []int, next int) {
	if limit == 0 {
		limit = DefaultMaxSegmentsPerRound
	}
	if limit < 0 || limit >= len(diff) {
		return diff, 0
	}
	i, _ := slices.BinarySearch(diff, start)
	segs = make([]int, 0, limit)
	for k := range limit {
		segs = append(segs, diff[(i+k)%len(diff)])
	}
	next = (segs[len(segs)-1] + 1) % n
	slices.Sort(segs)
	return segs, next
}

// reconcile merges the objects of both sides key by key and returns what each
// side lacks, the number of distinct keys, and the decode errors of the keys
// it had to skip. It sorts oa and ob by key (a storage scan already returns
// them sorted) and walks them together.
func reconcile(oa, ob []KeyObject) (toA, toB []KeyObject, keys int, bad []error, err error) {
	if err := sortKeys(oa, "a"); err != nil {
		return nil, nil, 0, nil, err
	}
	if err := sortKeys(ob, "b"); err != nil {
		return nil, nil, 0, nil, err
	}
	i, j := 0, 0
	for i < len(oa) || j < len(ob) {
		var k, ra, rb []byte
		switch c := compareAt(oa, ob, i, j); {
		case c < 0:
			k, ra = oa[i].Key, oa[i].Object
			i++
		case c > 0:
			k, rb = ob[j].Key, ob[j].Object
			j++
		default:
			k, ra, rb = oa[i].Key, oa[i].Object, ob[j].Object
			i++
			j++
		}
		keys++
		if bytes.Equal(ra, rb) {
			continue
		}
		da, errA := decode(k, ra, "a")
		db, errB := decode(k, rb, "b")
		if errA != nil || errB != nil {
			bad = append(bad, errors.Join(errA, errB))
			continue
		}
		merged := dvv.Sync(da, db)
		if merged.IsZero() {
			continue
		}
		enc, _ := merged.MarshalBinary() // never fails
		if !bytes.Equal(enc, ra) {
			toA = append(toA, KeyObject{Key: k, Object: enc})
		}
		if !bytes.Equal(enc, rb) {
			toB = append(toB, KeyObject{Key: k, Object: enc})
		}
	}
	return toA, toB, keys, bad, nil
}

// compareAt compares the keys at oa[i] and ob[j], an exhausted side being
// greater than any key.
func compareAt(oa, ob []KeyObject, i, j int) int {
	switch {
	case i == len(oa):
		return 1
	case j == len(ob):
		return -1
	}
	return bytes.Compare(oa[i].Key, ob[j].Key)
}

func compareKeys(x, y KeyObject) int { return bytes.Compare(x.Key, y.Key) }

// sortKeys sorts objs by key unless they already are, and rejects a key
// returned twice.
func sortKeys(objs []KeyObject, side string) error {
	if !slices.IsSortedFunc(objs, compareKeys) {
		slices.SortFunc(objs, compareKeys)
	}
	for i := 1; i < len(objs); i++ {
		if bytes.Equal(objs[i-1].Key, objs[i].Key) {
			return fmt.Errorf("%w: %s returned %s twice", ErrDuplicateKey, side, quoteKey(objs[i].Key))
		}
	}
	return nil
}

// decode decodes the object of key k on one side; nil (absent) is the zero
// Object.
func decode(k, raw []byte, side string) (dvv.Object, error) {
	if raw == nil {
		return dvv.Object{}, nil
	}
	o, err := dvv.Unmarshal(raw)
	if err != nil {
		return dvv.Object{}, fmt.Errorf("%w: key %s on %s: %w", ErrBadObject, quoteKey(k), side, err)
	}
	return o, nil
}

// quoteKey prints a per-partition key as namespace/"user key".
func quoteKey(k []byte) string {
	ns, key, ok := bytes.Cut(k, []byte{0})
	if !ok {
		return fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("%s/%q", ns, key)
}

// send merges objs into r in batches, waiting on lim before each batch, and
// counts what was sent.
func send(ctx context.Context, r Replica, partition int, objs []KeyObject, batch int, lim Limiter, sent *int) error {
	for chunk := range slices.Chunk(objs, batch) {
		if lim != nil {
			if err := lim.Wait(ctx, len(chunk)); err != nil {
				return err
			}
		}
		if err := r.Merge(ctx, partition, chunk); err != nil {
			return err
		}
		*sent += len(chunk)
	}
	return nil
}
