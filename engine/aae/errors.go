package aae

import "errors"

var (
	// ErrBadObject is wrapped (together with [dvv.ErrBadObject]) by the error
	// [Exchange] returns when a replica holds an object that does not decode.
	ErrBadObject = errors.New("aae: malformed object")
	// ErrSegmentCount is returned by [Exchange] when the two replicas' trees
	// have different numbers of segments and cannot be compared.
	ErrSegmentCount = errors.New("aae: replicas have different segment counts")
	// ErrDuplicateKey is returned by [Exchange] when a replica returns the
	// same key twice from [Replica.Objects].
	ErrDuplicateKey = errors.New("aae: duplicate key from replica")
	// ErrBadConfig is wrapped by the errors of [SchedulerConfig.Validate].
	ErrBadConfig = errors.New("aae: invalid config")
)
