package membership

import "errors"

var (
	// ErrClosed is returned by methods called after [Membership.Close].
	ErrClosed = errors.New("membership: closed")
	// ErrInvalidConfig wraps every [Config] validation failure.
	ErrInvalidConfig = errors.New("membership: invalid config")
	// ErrMetaTooLarge is returned when an encoded [Meta] exceeds [MaxMetaSize].
	ErrMetaTooLarge = errors.New("membership: node meta too large")
	// ErrInvalidDoc is returned for a [Doc] with a bad name or too much data.
	ErrInvalidDoc = errors.New("membership: invalid document")
	// ErrStaleDoc is returned by [Membership.Publish] when the local copy of
	// the document already wins over the published one.
	ErrStaleDoc = errors.New("membership: document is not newer than the local copy")
)
